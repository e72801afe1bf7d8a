#include "support/scrape.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

namespace stallwatch::test {

HttpResponse http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    throw std::runtime_error("write request failed");
  }
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  HttpResponse r;
  std::istringstream status_line(raw.substr(0, raw.find("\r\n")));
  std::string version;
  status_line >> version >> r.status;
  const auto body = raw.find("\r\n\r\n");
  if (body != std::string::npos) r.body = raw.substr(body + 4);
  return r;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

namespace {

// name{a="x",b="y"} value
Sample parse_line(const std::string& line) {
  Sample s;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::string key, value;
      while (i < line.size() && line[i] != '=') key += line[i++];
      i += 2;  // ="
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) {
          const char c = line[++i];
          value += c == 'n' ? '\n' : c;
        } else {
          value += line[i];
        }
        ++i;
      }
      ++i;  // closing quote
      if (i < line.size() && line[i] == ',') ++i;
      s.labels[key] = value;
    }
    ++i;  // }
  }
  const std::string rest = line.substr(i);
  std::istringstream v(rest);
  std::string value;
  v >> value;
  s.value = value == "+Inf" ? 1.0 / 0.0 : std::stod(value);
  return s;
}

bool includes(const Labels& have, const Labels& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

Exposition::Exposition(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    samples_.push_back(parse_line(line));
  }
}

std::vector<Sample> Exposition::all(const std::string& name, const Labels& match) const {
  std::vector<Sample> out;
  for (const auto& s : samples_) {
    if (s.name == name && includes(s.labels, match)) out.push_back(s);
  }
  return out;
}

Exposition scrape_metrics(int port) {
  const HttpResponse r = http_get(port, "/metrics");
  EXPECT_EQ(r.status, 200);
  return Exposition(r.body);
}

std::optional<double> Exposition::value(const std::string& name, const Labels& match) const {
  const auto found = all(name, match);
  if (found.empty()) return std::nullopt;
  if (found.size() > 1) throw std::runtime_error("more than one " + name + " sample matches");
  return found.front().value;
}

}  // namespace stallwatch::test
