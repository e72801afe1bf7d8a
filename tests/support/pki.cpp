#include "support/pki.h"

#include "support/shell.h"

#include <fstream>

namespace stallwatch::test {

Pki::Pki() {
  const std::string quiet = " 2>/dev/null";
  sh("cd " + dir_.path() +
     " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem" + quiet +
     " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr" + quiet +
     " && printf 'subjectAltName=IP:127.0.0.1,IP:::1\\n' > san.ext"
     " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext"
     " -out server.pem" + quiet +
     " && openssl req -newkey rsa:2048 -nodes -subj /CN=prometheus -keyout client.key -out client.csr" + quiet +
     " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out client.pem" + quiet +
     " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=stranger -keyout other.key -out other.pem" +
     quiet);
}

std::string Pki::web_config_with_user(const std::string& user, const std::string& password) const {
  const std::string path = this->path("web.yml");
  std::ofstream(path) << "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
                         "basic_auth_users:\n  "
                      << user << ": " << bcrypt(password) << "\n";
  return path;
}

std::string bcrypt(const std::string& password) {
  return sh("python3 -W ignore -c \"import crypt; print(crypt.crypt('" + password +
            "', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)), end='')\"");
}

}  // namespace stallwatch::test
