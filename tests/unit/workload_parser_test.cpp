#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "identity/workload.h"

namespace {

using stallwatch::identity::parse_cgroup_path;
using stallwatch::identity::Workload;

const std::set<std::string> kSandboxes = {"5804438d7fabc2623ba8f3dd9fbd84bae756e9c2ce29043962a30e9f654ea8b3",
                                          "4449f7f57b540554f3a8966f8d73d590a63fb2d855d8df1e35571780ebf95cdb",
                                          "8359ab20266f1d91463ed1b8af57af672695eca5cf8fb5b684f912675a22e14a",
                                          "1967c504c9836dc2e7ecfadc5c3be4edc1b56d3f6221840d7afdf77fb780bf68",
                                          "ceac1e9598851441c1d0a05b7434ffa78516dfa76f42755d22e1254510330e4a"};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t')) out.push_back(field);
  while (out.size() < 7) out.emplace_back();
  return out;
}

TEST(WorkloadParser, EveryFixtureRow) {
  std::ifstream in(STALLWATCH_FIXTURES "/identity/cgroup_paths.tsv");
  ASSERT_TRUE(in) << "fixture missing";
  std::string line;
  std::getline(in, line);  // header
  int rows = 0;
  while (std::getline(in, line)) {
    const auto f = split_tabs(line);
    const Workload w = parse_cgroup_path(f[0], kSandboxes);
    EXPECT_EQ(w.driver, f[1]) << f[0];
    EXPECT_EQ(w.runtime, f[2]) << f[0];
    EXPECT_EQ(w.qos, f[3]) << f[0];
    EXPECT_EQ(w.pod_uid, f[4]) << f[0];
    EXPECT_EQ(w.container_id, f[5]) << f[0];
    EXPECT_EQ(w.kind, f[6]) << f[0];
    ++rows;
  }
  EXPECT_EQ(rows, 69);
  RecordProperty("fixture_rows", rows);
}

TEST(WorkloadParser, SystemUnitsNameTheirUnit) {
  EXPECT_EQ(parse_cgroup_path("/system.slice/etcd.service").unit, "etcd.service");
  EXPECT_EQ(parse_cgroup_path("/sys/fs/cgroup/unified/system.slice/kubelet.service").unit, "kubelet.service");
}

TEST(WorkloadParser, AdversarialPathsNeverCrashAndSayOther) {
  const std::string huge(4096, 'a');
  const std::vector<std::string> paths = {
      "",
      "/",
      "//",
      "kubepods",
      "/kubepods/",
      "/kubepods/pod",
      "/kubepods.slice/-pod.slice",
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod.slice",
      "/kubepods/burstable/pod" + huge,
      "/" + huge,
      huge + "/kubepods",
      "/kubepods/\xff\xfe\x00",
      "/kubepods/burstable/pod\xe2\x98\x83\xe2\x98\x83",
      "/sys/fs/cgroup",
      "/sys/fs/cgroup/blkio",
      "/kubepods.slice/kubepods-pod5d96cf7f_265b_4da9_8f0c_26ef4243ed52.slice/cri-containerd-.scope",
      "/kubepods/besteffort/pod00d9f4ad-53a2-42b6-b3f5-f28807f0cbd4/crio-conmon-"};
  for (const auto& p : paths) {
    const Workload w = parse_cgroup_path(p);
    EXPECT_TRUE(w.kind == "other" || w.kind == "pod-level" || w.kind == "qos-level") << p << " -> " << w.kind;
    EXPECT_TRUE(w.container_id.empty()) << p;
  }
}

}  // namespace
