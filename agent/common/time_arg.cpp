#include "common/time_arg.h"

#include <ctime>
#include <string>

#include "common/duration.h"

namespace stallwatch {

namespace {

constexpr std::int64_t kSecNs = 1'000'000'000;

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

Result<std::int64_t> parse_time_ns(std::string_view text, std::int64_t now_ns) {
  const std::string quoted = "'" + std::string(text) + "'";
  if (text == "now") return now_ns;
  if (!text.empty() && text[0] == '-') {
    auto d = parse_duration_ns(text.substr(1), 366 * 24 * kHourNs);
    if (!d) return fail("bad time " + quoted + ": " + d.error().message);
    return now_ns - static_cast<std::int64_t>(*d);
  }
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  const bool fields = digits(text, 0, 4, year) && text.size() > 4 && text[4] == '-' && digits(text, 5, 2, mon) &&
                      text.size() > 7 && text[7] == '-' && digits(text, 8, 2, day) && text.size() > 10 &&
                      (text[10] == 'T' || text[10] == 't' || text[10] == ' ') && digits(text, 11, 2, hour) &&
                      text.size() > 13 && text[13] == ':' && digits(text, 14, 2, min) && text.size() > 16 &&
                      text[16] == ':' && digits(text, 17, 2, sec);
  if (!fields) {
    return fail("bad time " + quoted + " (expected RFC 3339 like 2026-12-04T03:12:00Z, 'now', or '-2h')");
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return fail("bad time " + quoted + ": a field is out of range");
  }
  std::size_t at = 19;
  std::int64_t frac_ns = 0;
  if (at < text.size() && text[at] == '.') {
    std::int64_t scale = kSecNs;
    ++at;
    const std::size_t first = at;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
      scale /= 10;
      frac_ns += (text[at] - '0') * scale;
    }
    if (at == first) return fail("bad time " + quoted + ": no digits after the '.'");
  }
  std::int64_t offset_s = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int oh = 0, om = 0;
    if (!digits(text, at + 1, 2, oh) || at + 3 >= text.size() || text[at + 3] != ':' || !digits(text, at + 4, 2, om)) {
      return fail("bad time " + quoted + ": the offset must be +HH:MM or -HH:MM");
    }
    offset_s = (text[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    at += 6;
  } else {
    return fail("bad time " + quoted + ": no time zone (end it with Z or an offset like +01:00)");
  }
  if (at != text.size()) return fail("bad time " + quoted + ": unexpected text after the time zone");
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const std::time_t t = timegm(&tm);
  return (static_cast<std::int64_t>(t) - offset_s) * kSecNs + frac_ns;
}

}  // namespace stallwatch
