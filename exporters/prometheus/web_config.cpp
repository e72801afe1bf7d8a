#include "exporters/prometheus/web_config.h"

#include <crypt.h>
#ifndef STALLWATCH_NO_TLS
#include <gnutls/gnutls.h>
#endif
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace stallwatch::exporters {

namespace {

namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(key + ": cannot read " + path.string() + ": " + errno_text(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (out.str().empty()) return fail(key + ": " + path.string() + " is empty");
  return out.str();
}

// exporter-toolkit rejects keys it does not know (a misspelt key must not
// silently leave the endpoint open); so do we, naming the ones we do know.
Result<void> known_keys(const YAML::Node& map, const std::string& where, const std::set<std::string>& known,
                        const std::set<std::string>& unsupported = {}) {
  if (!map.IsMap()) return fail(where + " must be a mapping");
  for (const auto& kv : map) {
    const auto key = kv.first.as<std::string>();
    if (unsupported.count(key)) return fail(where + "." + key + " is not supported by stallwatch");
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return fail("unknown key " + where + "." + key + " (known: " + list + ")");
    }
  }
  return {};
}

Result<ClientAuth> client_auth(const std::string& text) {
  if (text.empty() || text == "NoClientCert") return ClientAuth::kNone;
  if (text == "RequestClientCert") return ClientAuth::kRequest;
  if (text == "RequireAnyClientCert") return ClientAuth::kRequireAny;
  if (text == "VerifyClientCertIfGiven") return ClientAuth::kVerifyIfGiven;
  if (text == "RequireAndVerifyClientCert") return ClientAuth::kRequireAndVerify;
  return fail("tls_server_config.client_auth_type '" + text +
              "' is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
              "RequireAndVerifyClientCert");
}

Result<int> tls_version(const std::string& key, const std::string& text) {
  static const std::map<std::string, int> versions{{"TLS10", 10}, {"TLS11", 11}, {"TLS12", 12}, {"TLS13", 13}};
  const auto it = versions.find(text);
  if (it == versions.end()) return fail("tls_server_config." + key + " '" + text + "' is not TLS10, TLS11, TLS12 or TLS13");
  return it->second;
}

Result<std::string> priorities(int min, int max) {
  if (min > max) return fail("tls_server_config.min_version is above max_version");
  std::string s = "NORMAL:-VERS-ALL";
  for (int v = max; v >= min; --v) s += ":+VERS-TLS1." + std::to_string(v - 10);
  return s;
}

// The same checks the TLS library makes when serving starts, made while the
// file is read, so that a wrong file is a start-up error naming it.
Result<void> check_pems(const WebConfig& cfg) {
#ifdef STALLWATCH_NO_TLS
  (void)cfg;
  return fail("tls_server_config: this static build serves plain HTTP only (its HTTP library is built without "
              "GnuTLS); use the packaged build or the image for TLS");
#else
  gnutls_certificate_credentials_t cred = nullptr;
  if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) return fail("cannot set up TLS");
  const auto datum = [](const std::string& s) {
    return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
                          static_cast<unsigned>(s.size())};
  };
  const gnutls_datum_t cert = datum(cfg.cert_pem), key = datum(cfg.key_pem), ca = datum(cfg.client_ca_pem);
  Result<void> out;
  if (const int rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, nullptr, 0);
      rc < 0) {
    out = fail("tls_server_config: cert_file and key_file are not a matching PEM certificate and key: " +
               std::string(gnutls_strerror(rc)));
  } else if (!cfg.client_ca_pem.empty()) {
    const int n = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
    if (n <= 0) {
      out = fail("tls_server_config.client_ca_file holds no PEM certificate" +
                 (n < 0 ? ": " + std::string(gnutls_strerror(n)) : std::string()));
    }
  }
  gnutls_certificate_free_credentials(cred);
  return out;
#endif
}

bool is_bcrypt(const std::string& hash) {
  return hash.size() == 60 && hash[0] == '$' && hash[1] == '2' && (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') &&
         hash[3] == '$';
}

Result<WebConfig> parse(const YAML::Node& root, const fs::path& dir) {
  WebConfig cfg;
  if (!root || root.IsNull()) return cfg;  // an empty file: plain HTTP, no users
  if (auto ok = known_keys(root, "web config", {"tls_server_config", "http_server_config", "basic_auth_users"}); !ok) {
    return std::unexpected(ok.error());
  }
  if (const auto tls = root["tls_server_config"]; tls && !tls.IsNull()) {
    if (auto ok = known_keys(tls, "tls_server_config",
                             {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"},
                             {"cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans",
                              "cert", "key", "client_ca"});
        !ok) {
      return std::unexpected(ok.error());
    }
    const auto path_of = [&](const char* key) -> std::string {
      if (!tls[key]) return "";
      const fs::path p = tls[key].as<std::string>();
      return (p.is_absolute() ? p : dir / p).string();
    };
    const std::string cert = path_of("cert_file"), key = path_of("key_file"), ca = path_of("client_ca_file");
    if (cert.empty() || key.empty()) return fail("tls_server_config needs both cert_file and key_file");
    auto cert_pem = read_file(cert, "tls_server_config.cert_file");
    if (!cert_pem) return std::unexpected(cert_pem.error());
    auto key_pem = read_file(key, "tls_server_config.key_file");
    if (!key_pem) return std::unexpected(key_pem.error());
    cfg.tls = true;
    cfg.cert_pem = std::move(*cert_pem);
    cfg.key_pem = std::move(*key_pem);
    auto auth = client_auth(tls["client_auth_type"] ? tls["client_auth_type"].as<std::string>() : "");
    if (!auth) return std::unexpected(auth.error());
    cfg.client_auth = *auth;
    const bool verifies = *auth == ClientAuth::kVerifyIfGiven || *auth == ClientAuth::kRequireAndVerify;
    if (verifies && ca.empty()) return fail("tls_server_config.client_auth_type needs client_ca_file");
    if (!verifies && !ca.empty()) {
      return fail("tls_server_config.client_ca_file is set but client_auth_type does not verify client certificates");
    }
    if (!ca.empty()) {
      auto ca_pem = read_file(ca, "tls_server_config.client_ca_file");
      if (!ca_pem) return std::unexpected(ca_pem.error());
      cfg.client_ca_pem = std::move(*ca_pem);
    }
    auto min = tls_version("min_version", tls["min_version"] ? tls["min_version"].as<std::string>() : "TLS12");
    if (!min) return std::unexpected(min.error());
    auto max = tls_version("max_version", tls["max_version"] ? tls["max_version"].as<std::string>() : "TLS13");
    if (!max) return std::unexpected(max.error());
    auto prio = priorities(*min, *max);
    if (!prio) return std::unexpected(prio.error());
    cfg.tls_priorities = *prio;
    if (auto ok = check_pems(cfg); !ok) return std::unexpected(ok.error());
  }
  if (const auto http = root["http_server_config"]; http && !http.IsNull()) {
    if (auto ok = known_keys(http, "http_server_config", {"headers", "http2"}); !ok) return std::unexpected(ok.error());
    if (const auto headers = http["headers"]; headers && !headers.IsNull()) {
      if (!headers.IsMap()) return fail("http_server_config.headers must be a mapping");
      for (const auto& kv : headers) cfg.headers[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
  }
  if (const auto users = root["basic_auth_users"]; users && !users.IsNull()) {
    if (!users.IsMap()) return fail("basic_auth_users must be a mapping of user to bcrypt hash");
    for (const auto& kv : users) {
      const auto user = kv.first.as<std::string>();
      const auto hash = kv.second.as<std::string>();
      if (user.empty() || user.find(':') != std::string::npos) {
        return fail("basic_auth_users: user '" + user + "' is empty or holds ':'");
      }
      if (!is_bcrypt(hash)) return fail("basic_auth_users." + user + " is not a bcrypt hash ($2a$, $2b$ or $2y$)");
      cfg.users[user] = hash;
    }
  }
  return cfg;
}

}  // namespace

Result<WebConfig> load_web_config(const std::string& path) {
  if (path.empty()) return WebConfig{};
  std::ifstream in(path);
  if (!in) return fail("--web.config.file: cannot read " + path + ": " + errno_text(errno));
  try {
    auto cfg = parse(YAML::Load(in), fs::absolute(path).parent_path());
    if (!cfg) return fail("--web.config.file " + path + ": " + cfg.error().message);
    return cfg;
  } catch (const YAML::Exception& e) {
    return fail("--web.config.file " + path + ": " + e.what());
  }
}

bool PasswordCheck::check(const std::string& user, const std::string& password) {
  const auto it = users_.find(user);
  // An unknown user still costs a bcrypt round, so timing does not tell
  // which users exist.
  static const std::string kDecoy = "$2b$10$P8em3HUKzRTdYHqJQDVEveulvA3i8qKyETrccl.h1lipYNkBcRGUe";
  const std::string& hash = it == users_.end() ? kDecoy : it->second;
  const std::string key = user + '\0' + password;
  {
    std::lock_guard lock(mu_);
    if (it != users_.end() && passed_.count(key)) return true;
  }
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(password.c_str(), hash.c_str(), data.get());
  bool ok = it != users_.end() && out && out[0] != '*';
  if (ok) {
    const std::string_view got(out);
    unsigned diff = got.size() ^ hash.size();
    for (std::size_t i = 0; i < std::min(got.size(), hash.size()); ++i) diff |= static_cast<unsigned>(got[i] ^ hash[i]);
    ok = diff == 0;
  }
  if (ok) {
    std::lock_guard lock(mu_);
    if (passed_.size() >= 64) passed_.clear();
    passed_.insert(key);
  }
  return ok;
}

}  // namespace stallwatch::exporters
