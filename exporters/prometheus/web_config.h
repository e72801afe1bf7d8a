#pragma once
// --web.config.file in the Prometheus exporter-toolkit format: TLS (server
// certificate and key, optional client CA) and basic-auth users with bcrypt
// hashes, so an endpoint that lists every pod on the node is not read in
// clear by anyone who reaches the port.
#include <map>
#include <mutex>
#include <string>
#include <unordered_set>

#include "common/result.h"

namespace stallwatch::exporters {

enum class ClientAuth { kNone, kRequest, kRequireAny, kVerifyIfGiven, kRequireAndVerify };

struct WebConfig {
  bool tls = false;
  std::string cert_pem, key_pem, client_ca_pem;
  ClientAuth client_auth = ClientAuth::kNone;
  std::string tls_priorities;  // GnuTLS priority string from min_version/max_version
  std::map<std::string, std::string> users;  // name -> bcrypt hash
  std::map<std::string, std::string> headers;  // added to every answer
};

// Reads and checks the whole file; any unknown key, missing file or hash that
// is not bcrypt is an error naming it. An empty path is "no config".
Result<WebConfig> load_web_config(const std::string& path);

// Checks a password against a bcrypt hash (libcrypt). bcrypt costs tens of
// milliseconds by design; a scraper sends the same pair every interval, so
// pairs that passed are remembered.
class PasswordCheck {
 public:
  explicit PasswordCheck(std::map<std::string, std::string> users) : users_(std::move(users)) {}
  bool enabled() const { return !users_.empty(); }
  bool check(const std::string& user, const std::string& password);

 private:
  std::map<std::string, std::string> users_;
  std::mutex mu_;
  std::unordered_set<std::string> passed_;  // sha-free: user NUL password, in this process's memory only
};

}  // namespace stallwatch::exporters
