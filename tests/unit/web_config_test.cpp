#include "exporters/prometheus/web_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

using stallwatch::exporters::ClientAuth;
using stallwatch::exporters::load_web_config;
using stallwatch::exporters::PasswordCheck;

// "$2b$10$..." of "s3cret".
const char* kHash = "$2b$10$XprfZrW//hwdfZYMUjtED.6vvYsKlf0i7E59trlFTNH3duB262GKK";

class WebConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("stallwatch-webcfg-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    // A self-signed certificate and key, and a CA, valid for a century.
    for (const char* f : {"cert.pem", "key.pem", "ca.pem"}) {
      std::filesystem::copy_file(std::string(STALLWATCH_FIXTURES) + "/web/" + f, dir_ / f);
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& yaml) {
    const auto p = dir_ / "web.yml";
    std::ofstream(p) << yaml;
    return p.string();
  }
  std::string error_of(const std::string& yaml) {
    const auto r = load_web_config(write(yaml));
    return r ? "" : r.error().message;
  }
  std::filesystem::path dir_;
};

TEST_F(WebConfigTest, TlsWithRelativePathsUsersAndHeaders) {
  const auto r = load_web_config(write(std::string("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                                                   "  client_auth_type: RequireAndVerifyClientCert\n"
                                                   "  client_ca_file: ca.pem\n  min_version: TLS13\n"
                                                   "http_server_config:\n  http2: true\n  headers:\n"
                                                   "    Strict-Transport-Security: max-age=31536000\n"
                                                   "basic_auth_users:\n  prometheus: ") +
                                       kHash + "\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->tls);
  EXPECT_EQ(r->cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0U);
  EXPECT_EQ(r->key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0U);
  EXPECT_EQ(r->client_ca_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0U);
  EXPECT_EQ(r->client_auth, ClientAuth::kRequireAndVerify);
  EXPECT_EQ(r->tls_priorities, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
  EXPECT_EQ(r->users.at("prometheus"), kHash);
  EXPECT_EQ(r->headers.at("Strict-Transport-Security"), "max-age=31536000");
}

TEST_F(WebConfigTest, EmptyFileAndNoFileMeanPlainHttp) {
  EXPECT_FALSE(load_web_config("")->tls);
  const auto r = load_web_config(write(""));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->tls);
  EXPECT_TRUE(r->users.empty());
}

TEST_F(WebConfigTest, EveryMistakeIsNamed) {
  const std::pair<std::string, std::string> cases[] = {
      {"tls_server_confg:\n  cert_file: cert.pem\n", "unknown key web config.tls_server_confg"},
      {"tls_server_config:\n  cert_file: cert.pem\n", "needs both cert_file and key_file"},
      {"tls_server_config:\n  cert_file: nope.pem\n  key_file: key.pem\n", "cannot read"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: Sometimes\n",
       "is not one of"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: "
       "RequireAndVerifyClientCert\n",
       "needs client_ca_file"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_ca_file: ca.pem\n",
       "does not verify client certificates"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS14\n",
       "min_version 'TLS14'"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS13\n  max_version: TLS12\n",
       "min_version is above max_version"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  cipher_suites: [x]\n",
       "cipher_suites is not supported"},
      {"basic_auth_users:\n  prometheus: plaintext\n", "is not a bcrypt hash"},
      {"basic_auth_users:\n  - prometheus\n", "must be a mapping"},
      {"http_server_config:\n  header:\n    a: b\n", "unknown key http_server_config.header"},
      {"tls_server_config: [\n", "--web.config.file"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: ca.pem\n", "not a matching PEM certificate and key"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: VerifyClientCertIfGiven\n"
       "  client_ca_file: key.pem\n",
       "client_ca_file holds no PEM certificate"},
  };
  for (const auto& [yaml, want] : cases) {
    const auto err = error_of(yaml);
    EXPECT_NE(err.find(want), std::string::npos) << yaml << "\ngave: " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << "one line: " << err;
  }
  const auto missing = load_web_config((dir_ / "absent.yml").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos);
}

TEST(PasswordCheck, BcryptRightWrongAndUnknown) {
  PasswordCheck check(std::map<std::string, std::string>{{"prometheus", kHash}});
  EXPECT_TRUE(check.enabled());
  EXPECT_TRUE(check.check("prometheus", "s3cret"));
  EXPECT_TRUE(check.check("prometheus", "s3cret"));  // remembered
  EXPECT_FALSE(check.check("prometheus", "s3cret "));
  EXPECT_FALSE(check.check("prometheus", ""));
  EXPECT_FALSE(check.check("nobody", "s3cret"));
  EXPECT_FALSE(PasswordCheck(std::map<std::string, std::string>{}).enabled());
}

}  // namespace
