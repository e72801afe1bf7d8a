#pragma once
// Certificates and password hashes for tests of the web config: a CA, a
// server certificate for 127.0.0.1 and ::1, a client certificate from the
// same CA and one from a stranger, all made with the openssl command.
#include <string>

#include "support/scratch.h"

namespace stallwatch::test {

class Pki {
 public:
  Pki();
  // ca.pem, server.pem/.key, client.pem/.key, other.pem/.key
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  const std::string& dir() const { return dir_.path(); }
  // web.yml beside the certificates: TLS with server.pem/.key (relative
  // paths, as exporter-toolkit resolves them) and one basic-auth user.
  std::string web_config_with_user(const std::string& user, const std::string& password) const;

 private:
  TempDir dir_;
};

// A bcrypt hash of password (cost 10), through libcrypt as python3 calls it.
std::string bcrypt(const std::string& password);

}  // namespace stallwatch::test
