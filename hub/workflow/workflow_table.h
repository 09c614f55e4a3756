// The workflows the hub plans requests with: for each request kind, its ordered stages, each
// sent to the MDP service named for it. (The content-based route table of routing/ will
// produce these plans; this table is the plan format the engine executes.)
#ifndef TAXHUB_HUB_WORKFLOW_WORKFLOW_TABLE_H_
#define TAXHUB_HUB_WORKFLOW_WORKFLOW_TABLE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace taxhub::workflow {

struct StageSpec {
  std::string name;           // "accept"
  std::string label;          // "受理" — the node's name as people know it
  std::string service;        // MDP service the stage goes to
  int64_t time_limit_ms = 0;  // 办结时限
  int max_attempts = 3;
};

struct Workflow {
  std::string kind;
  std::vector<StageSpec> stages;
};

class WorkflowTable {
 public:
  void Add(Workflow workflow) { by_kind_[workflow.kind] = std::move(workflow); }
  const Workflow* Find(std::string_view kind) const {
    auto it = by_kind_.find(kind);
    return it == by_kind_.end() ? nullptr : &it->second;
  }
  size_t size() const { return by_kind_.size(); }
  std::vector<std::string> Kinds() const {
    std::vector<std::string> out;
    for (const auto& [kind, workflow] : by_kind_) out.push_back(kind);
    return out;
  }

 private:
  std::map<std::string, Workflow, std::less<>> by_kind_;
};

}  // namespace taxhub::workflow

#endif  // TAXHUB_HUB_WORKFLOW_WORKFLOW_TABLE_H_
