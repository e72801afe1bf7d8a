#include "support/report_page.h"

#include <regex>

namespace stallwatch::test {

std::string without_spans(const std::string& text, const std::string& open, const std::string& close) {
  std::string out;
  std::size_t at = 0;
  for (;;) {
    const auto start = text.find(open, at);
    if (start == std::string::npos) break;
    const auto end = text.find(close, start + open.size());
    out.append(text, at, start - at);
    if (end == std::string::npos) return out;
    at = end + close.size();
  }
  return out + text.substr(at);
}

std::string page_text(const std::string& html) { return without_spans(html, "<script", "</script>"); }

std::string fetches(const std::string& html) {
  std::smatch m;
  const std::string head = html.substr(0, html.find("</head>"));
  if (!std::regex_search(head, m, std::regex(R"re(Content-Security-Policy" content="([^"]*)")re")))
    return "no Content-Security-Policy";
  const std::string csp = m[1];
  if (csp.find("default-src 'none'") == std::string::npos) return "CSP without default-src 'none': " + csp;
  for (const char* allowed : {"http", "*", "blob:", "connect-src", "frame-src", "font-src"}) {
    if (csp.find(allowed) != std::string::npos) return "CSP allows " + std::string(allowed) + ": " + csp;
  }
  const std::string rest = without_spans(html, "/*!", "*/");
  for (const char* scheme : {"http://", "https://", "ws://", "wss://"}) {
    const auto at = rest.find(scheme);
    if (at != std::string::npos) return "a URL outside the licence banners: " + rest.substr(at, 80);
  }
  return "";
}

}  // namespace stallwatch::test
