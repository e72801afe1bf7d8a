#pragma once
// A plain HTTP GET and a parser for the Prometheus text format, enough to
// read back what the agent exposes.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace stallwatch::test {

struct HttpResponse {
  int status = 0;
  std::string body;
};
// Throws std::runtime_error when it cannot connect.
HttpResponse http_get(int port, const std::string& path);

class Exposition;
// GET /metrics on the loopback port, expecting 200, parsed.
Exposition scrape_metrics(int port);

// A loopback port nothing listens on right now, for servers a test starts.
int free_port();

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

class Exposition {
 public:
  explicit Exposition(const std::string& text);

  // The value of the one sample with this name whose labels include `match`.
  // nullopt when none; throws when more than one matches.
  std::optional<double> value(const std::string& name, const Labels& match) const;
  // Every sample with this name whose labels include `match`.
  std::vector<Sample> all(const std::string& name, const Labels& match = {}) const;
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  std::vector<Sample> samples_;
};

}  // namespace stallwatch::test
