#include "capture/bundle.h"

#include <cerrno>
#include <fstream>

#include "exporters/report/html.h"

namespace stallwatch::capture {

namespace fs = std::filesystem;

bool write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

Result<void> prepare_bundle_dir(const fs::path& dir, const std::string& flag) {
  std::error_code ec;
  if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec)) {
    return fail(dir.string() + " already holds files (an earlier bundle?): " + flag +
                " takes a new or empty directory");
  }
  fs::create_directories(dir, ec);
  const fs::path probe = dir / ".writable";
  if (ec || !write_file(probe, "")) {
    return fail("cannot write the bundle to " + dir.string() + ": " + (ec ? ec.message() : std::strerror(errno)));
  }
  fs::remove(probe, ec);
  return {};
}

bool write_report(const fs::path& dir, const nlohmann::json& summary, const nlohmann::json& host,
                  const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples) {
  return write_file(dir / "summary.json", summary.dump(2) + "\n") &&
         write_file(dir / "report.html", report::render_html(summary, host, events, samples));
}

}  // namespace stallwatch::capture
