// report.html in a real browser, from a bundle made by hand
// (tests/fixtures/bundles/two-victims): every victim gets its own section,
// each culprit keeps its kind, each chart is drawn by the inlined Chart.js
// with its legend, each chart and table says which calls it covers, and
// nothing is printed as raw JSON. Needs no agent: `stallwatch
// report` renders a bundle copied from elsewhere.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/processes.h"
#include "support/report_page.h"
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

// An attribute of the element with this id, as the browser left it.
std::string attribute(const std::string& dom, const std::string& id, const std::string& name) {
  const std::regex element("<[a-z]+ [^>]*id=\"" + id + "\"[^>]*>");
  std::smatch m;
  if (!std::regex_search(dom, m, element)) return "(no element " + id + ")";
  const std::string tag = m[0];
  const std::regex attr(" " + name + "=\"([^\"]*)\"");
  return std::regex_search(tag, m, attr) ? m[1].str() : "(no " + name + ")";
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
  EXPECT_EQ(fetches(html), "") << "it must load nothing";

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
  // Chart.js drew every chart, each with its legend; nothing failed.
  EXPECT_EQ(dom.find("class=\"chart-error\""), std::string::npos) << dom.substr(dom.find("class=\"chart-error\""), 300);
  for (const std::string sfx : {"", "-1"}) {
    for (const std::string chart : {"timeline", "slowcalls", "throughput", "kinds"}) {
      const std::string points = attribute(dom, chart + sfx, "data-points");
      ASSERT_TRUE(std::all_of(points.begin(), points.end(), ::isdigit) && !points.empty()) << chart + sfx << ": " << points;
      EXPECT_GT(std::stoi(points), 0) << chart + sfx;
    }
    EXPECT_EQ(attribute(dom, "timeline" + sfx, "data-series"), "p50 per second|p99 per second");
    EXPECT_EQ(attribute(dom, "slowcalls" + sfx, "data-series"), "slow call: neighbor|probe failure (any pod)");
  }
  // 20 seconds, each with a p50 bucket and a p99 bucket: the heat map's cells.
  EXPECT_EQ(attribute(dom, "timeline", "data-points"), "40");
  EXPECT_EQ(attribute(dom, "slowcalls", "data-points"), "31");  // 30 slow calls and the failed probe
  EXPECT_EQ(attribute(dom, "throughput", "data-series"), "batch/etl-7|kube-system/etcd-cp-1");
  EXPECT_EQ(attribute(dom, "kinds", "data-series"), "own_io|neighbor_io|cpu|other");
  EXPECT_EQ(attribute(dom, "kinds-1", "data-series"), "own_io|cpu|other");
  EXPECT_NE(dom.find("calls per second in a latency bucket, 1 <span class=\"ramp\""), std::string::npos);
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
  EXPECT_EQ(count(dom, "(all its calls)"), 6U);
  EXPECT_EQ(count(dom, "(its slow calls)"), 4U);
  EXPECT_NE(dom.find("bounds of the histogram buckets"), std::string::npos);
  // Verdicts and rungs as words, not JSON.
  const auto victims = rows_of(dom, "victims");
  ASSERT_EQ(victims.size(), 2U);
  EXPECT_EQ(victims[0][5], "neighbor 30");
  EXPECT_EQ(victims[1][5], "neighbor 10");
  EXPECT_EQ(victims[0][3], "≤ 64 ms");
  const std::string page = page_text(dom);
  EXPECT_EQ(page.find("{\""), std::string::npos);
  EXPECT_EQ(page.find("{&quot;"), std::string::npos);
  EXPECT_NE(page.find("rungs: blame: tp_btf, block: tp_btf"), std::string::npos);
  // Host facts, as words.
  const auto host = rows_of(dom, "host");
  ASSERT_GE(host.size(), 5U);
  EXPECT_EQ(host[0][0], "cp-1");
  EXPECT_NE(page.find("<th>victims selected by</th><td>comm=etcd, comm=postgres</td>"), std::string::npos);
  // Two window sizes, kept beside the test binary for a person to look at.
  const fs::path here = fs::read_symlink("/proc/self/exe").parent_path();
  for (const std::string size : {"1200,2600", "700,2600"}) {
    const fs::path png = here / ("report-" + size.substr(0, size.find(',')) + ".png");
    run_shell(chromium + "--window-size=" + size + " --screenshot=" + png.string() + " " + url + " 2>/dev/null");
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_GT(fs::file_size(png), 20'000U);
    std::printf("screenshot: %s (%ju bytes)\n", png.c_str(), static_cast<std::uintmax_t>(fs::file_size(png)));
  }
}

}  // namespace
}  // namespace stallwatch::test
