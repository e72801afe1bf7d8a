// report.html in a real browser, from a bundle made by hand
// (tests/fixtures/bundles/two-victims): every victim gets its own section,
// each culprit keeps its kind, each chart and table says which calls it
// covers, and nothing is printed as raw JSON. Needs no agent: `stallwatch
// report` renders a bundle copied from elsewhere.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/processes.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The rows of one table: its cells' text, tags stripped.
std::vector<std::vector<std::string>> rows_of(const std::string& dom, const std::string& id) {
  const auto at = dom.find("<table id=\"" + id + "\"");
  if (at == std::string::npos) return {};
  const std::string table = dom.substr(at, dom.find("</table>", at) - at);
  std::vector<std::vector<std::string>> rows;
  const std::regex row(R"(<tr>(.*?)</tr>)"), cell(R"(<td[^>]*>(.*?)</td>)");
  for (auto r = std::sregex_iterator(table.begin(), table.end(), row); r != std::sregex_iterator(); ++r) {
    const std::string tr = (*r)[1];
    std::vector<std::string> cells;
    for (auto c = std::sregex_iterator(tr.begin(), tr.end(), cell); c != std::sregex_iterator(); ++c) {
      cells.push_back((*c)[1]);
    }
    if (!cells.empty()) rows.push_back(cells);
  }
  return rows;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ReportDom, EveryVictimItsCulpritKindsAndWhichCallsEachPartCovers) {
  if (access("/usr/bin/chromium", X_OK) != 0) {
    if (in_ci()) FAIL() << "needs chromium (CI=true: no skips)";
    GTEST_SKIP() << "needs chromium";
  }
  TempDir dir;
  const fs::path bundle = fs::path(dir.path()) / "bundle";
  fs::copy(fs::path(STALLWATCH_FIXTURES) / "bundles/two-victims", bundle);
  const Completed r = run_command({agent_binary(), "report", bundle.string()});
  ASSERT_EQ(r.exit.code, 0) << r.err;
  const std::string html = slurp(bundle / "report.html");
  EXPECT_EQ(html.find("http://"), std::string::npos) << "it must load nothing";
  EXPECT_EQ(html.find("https://"), std::string::npos);

  TempDir profile;
  const std::string chromium =
      "chromium --headless --no-sandbox --disable-gpu --user-data-dir=" + profile.path() + " ";
  const std::string url = "file://" + (bundle / "report.html").string();
  const std::string dom = run_shell(chromium + "--dump-dom " + url + " 2>/dev/null").out;
  ASSERT_NE(dom.find("</html>"), std::string::npos) << dom.substr(0, 500);

  // One section per victim, the one that waited longest first.
  const auto first = dom.find(R"(<section class="victim" id="victim-0" data-cgroup="/kubepods/burstable/podaaa/etcd">)");
  const auto second =
      dom.find(R"(<section class="victim" id="victim-1" data-cgroup="/system.slice/postgresql.service">)");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  for (const char* id : {"timeline", "throughput", "kinds", "timeline-1", "throughput-1", "kinds-1"}) {
    EXPECT_NE(dom.find("<svg id=\"" + std::string(id) + "\""), std::string::npos) << id;
  }
  // Culprits keep their kinds: etcd's disk neighbour is I/O, postgres's is a CPU hog.
  const auto etcd = rows_of(dom, "culprits"), pg = rows_of(dom, "culprits-1");
  ASSERT_EQ(etcd.size(), 3U);
  EXPECT_EQ(etcd[0][1], "batch/etl-7");
  EXPECT_EQ(etcd[0][4], "neighbor_io");
  EXPECT_EQ(etcd[2][1], "ci/build-3");
  EXPECT_EQ(etcd[2][4], "cpu");
  ASSERT_EQ(pg.size(), 2U);
  EXPECT_EQ(pg[0][1], "ci/build-3");
  EXPECT_EQ(pg[0][4], "cpu");
  EXPECT_EQ(pg[0][6], "91.7%");
  // Each part says which calls it covers.
  EXPECT_EQ(count(dom, "(all its calls)"), 4U);
  EXPECT_EQ(count(dom, "(its slow calls)"), 2U);
  EXPECT_NE(dom.find("bounds of the histogram buckets"), std::string::npos);
  // Verdicts and rungs as words, not JSON.
  const auto victims = rows_of(dom, "victims");
  ASSERT_EQ(victims.size(), 2U);
  EXPECT_EQ(victims[0][5], "neighbor 30");
  EXPECT_EQ(victims[1][5], "neighbor 10");
  EXPECT_EQ(victims[0][3], "≤ 64 ms");
  EXPECT_EQ(dom.find("{\""), std::string::npos);
  EXPECT_EQ(dom.find("{&quot;"), std::string::npos);
  EXPECT_NE(dom.find("rungs: blame: tp_btf, block: tp_btf"), std::string::npos);
  // Two window sizes, kept beside the test binary for a person to look at.
  for (const std::string size : {"1200,1600", "700,1400"}) {
    const fs::path png = fs::absolute("report-" + size.substr(0, size.find(',')) + ".png");
    run_shell(chromium + "--window-size=" + size + " --screenshot=" + png.string() + " " + url + " 2>/dev/null");
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_GT(fs::file_size(png), 20'000U);
    std::printf("screenshot: %s (%ju bytes)\n", png.c_str(), static_cast<std::uintmax_t>(fs::file_size(png)));
  }
}

}  // namespace
}  // namespace stallwatch::test
