#pragma once
// Move-only owners of libbpf objects.
#include <bpf/libbpf.h>

#include <cerrno>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "loader/rung.h"

namespace stallwatch::loader {

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using Link = std::unique_ptr<bpf_link, LinkDeleter>;

// Attaches every program of obj that is set to autoload, but cgroup
// programs. On failure the
// links made so far are destroyed and the error names the program.
Result<std::vector<Link>> attach_all(bpf_object* obj);

// Detaching a tracepoint link waits for an RCU grace period (about 70 ms
// each on 6.18); detaching them all at once waits for about one.
void destroy_links_concurrently(std::vector<Link>& links);

// A bare SEC("raw_tp") program is never attached: user space runs it with
// BPF_PROG_TEST_RUN (5.10+ for raw_tp), so it updates live state with the
// same atomics as the attached programs do.
bool runs_on_demand(const bpf_program* prog);

// Loads exactly the programs whose section belongs to one of rungs, and the
// on-demand ones; the section prefix says which (set before load; later
// calls may refine).
void autoload_rungs(bpf_object* obj, std::initializer_list<Rung> rungs);

// (name, fd) of every program of obj that is loaded, for the reader's
// per-program kernel statistics.
std::vector<std::pair<std::string, int>> loaded_programs(const bpf_object* obj);

// Routes libbpf's own output to spdlog at debug level (shown under -v).
void route_libbpf_output();

// Owns one skeleton (programs and maps) and the links of its programs:
// open, configure through skel(), then load_and_attach. Teardown detaches
// the links first, then frees programs and maps.
template <typename Skel>
class Programs {
 public:
  struct Ops {
    Skel* (*open)();
    int (*load)(Skel*);
    void (*destroy)(Skel*);
  };

  // what names the object in errors ("open fsync BPF object: ENOMEM").
  static Result<Programs> open(const Ops& ops, const std::string& what) {
    Programs p(ops);
    p.skel_.reset(ops.open());
    if (!p.skel_) return fail_errno("open " + what + " BPF object", errno);
    return p;
  }

  Programs(Programs&&) = default;
  Programs& operator=(Programs&&) = default;
  ~Programs() { destroy_links_concurrently(links_); }

  Skel& skel() const { return *skel_; }
  Rung rung() const { return rung_; }

  // Loads the object: the programs set to autoload and every map.
  Result<void> load(Rung rung) {
    if (int err = ops_.load(skel_.get()); err) {
      return fail_errno("load " + std::string(to_string(rung)) + " programs", err);
    }
    rung_ = rung;
    return {};
  }

  // Attaches every loaded program; maps may be filled before this.
  Result<void> attach() {
    auto links = attach_all(skel_->obj);
    if (!links) return std::unexpected(links.error());
    links_ = std::move(*links);
    return {};
  }

  std::vector<std::pair<std::string, int>> loaded() const { return loaded_programs(skel_->obj); }

  Result<void> load_and_attach(Rung rung) {
    if (auto loaded = load(rung); !loaded) return loaded;
    return attach();
  }

  // Attaches a loaded program to one more classic tracepoint: one program
  // verified once serves several events of the same layout.
  Result<void> attach_also(bpf_program* prog, const std::string& category, const std::string& name) {
    Link link(bpf_program__attach_tracepoint(prog, category.c_str(), name.c_str()));
    if (!link) return fail_errno("attach " + std::string(bpf_program__name(prog)) + " to " + category + "/" + name, errno);
    links_.push_back(std::move(link));
    return {};
  }

 private:
  explicit Programs(const Ops& ops) : ops_(ops), skel_(nullptr, ops.destroy) {}

  Ops ops_;
  std::unique_ptr<Skel, void (*)(Skel*)> skel_;
  std::vector<Link> links_;
  Rung rung_ = Rung::kOff;
};

}  // namespace stallwatch::loader
