#include "engine/reference.h"

#include <algorithm>

#include "engine/diag.h"
#include "engine/expr.h"

namespace ctflow {
namespace {

std::vector<std::string> split_dots(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    parts.emplace_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

Result<Reference> step_reference(Reference r, const std::vector<std::string>& p) {
  if (p.size() < 3)
    return Status::Error("'" + r.text + "' should be steps.STEP.outputs.NAME, steps.STEP.artifacts.NAME, steps.STEP.status or steps.STEP.exit_code");
  r.name = p[1];
  if (p[2] == "status" && p.size() == 3) {
    r.kind = Reference::Kind::StepStatus;
    return r;
  }
  if (p[2] == "exit_code" && p.size() == 3) {
    r.kind = Reference::Kind::StepExitCode;
    return r;
  }
  if ((p[2] == "outputs" || p[2] == "artifacts") && p.size() == 4) {
    r.kind = p[2] == "outputs" ? Reference::Kind::StepOutput : Reference::Kind::StepArtifact;
    r.field = p[3];
    return r;
  }
  if (p[2] == "outputs" && p.size() > 4) {  // a key of an output that is an object: steps.tune.outputs.best.lr
    r.kind = Reference::Kind::StepOutput;
    r.field = p[3];
    for (size_t i = 4; i < p.size(); ++i) r.path += (i > 4 ? "." : "") + p[i];
    return r;
  }
  return Status::Error("'" + r.text + "' should be steps." + r.name + ".outputs.NAME, steps." + r.name +
                       ".artifacts.NAME, steps." + r.name + ".status or steps." + r.name + ".exit_code");
}

}  // namespace

Result<Reference> parse_reference(std::string_view text) {
  Reference r;
  r.text = std::string(text);
  if (!expr::is_ref(text))
    return Status::Error("'" + r.text + "' is not a reference: write a dotted name like params.x or steps.s.outputs.y");
  const std::vector<std::string> p = split_dots(text);
  const std::string& root = p[0];
  if (root == "params") {
    if (p.size() != 2) return Status::Error("'" + r.text + "' should be params.NAME");
    r.kind = Reference::Kind::Param;
    r.name = p[1];
    return r;
  }
  if (root == "item") {
    r.kind = Reference::Kind::Item;
    r.field = p.size() > 1 ? r.text.substr(5) : "";
    return r;
  }
  if (root == "trial") {
    if (p.size() > 2) return Status::Error("'" + r.text + "' should be trial.NAME (a parameter of the step's sweep)");
    r.kind = Reference::Kind::Trial;
    r.name = p.size() > 1 ? p[1] : "";
    return r;
  }
  if (root == "workflow") {
    static const std::vector<std::string> kFields = {"name", "run_id", "status", "failures"};
    if (p.size() != 2 || std::find(kFields.begin(), kFields.end(), p[1]) == kFields.end())
      return Status::Error("unknown reference '" + r.text +
                           "': use workflow.name, workflow.run_id, workflow.status or workflow.failures");
    r.kind = Reference::Kind::Workflow;
    r.name = p[1];
    return r;
  }
  if (root == "steps") return step_reference(std::move(r), p);
  return Status::Error("unknown reference '" + r.text + "': references start with params., steps., item, trial or workflow." +
                       did_you_mean(root, {"params", "steps", "item", "trial", "workflow"}));
}

const std::vector<std::string>& depends_results() {
  static const std::vector<std::string> kResults = {"Succeeded", "Failed",       "Errored",   "Skipped",
                                                    "Omitted",   "AnySucceeded", "AllFailed", "Daemoned"};
  return kResults;
}

DependsTerm parse_depends_term(std::string_view ref) {
  const size_t dot = ref.find('.');
  if (dot == std::string_view::npos) return DependsTerm{std::string(ref), ""};
  return DependsTerm{std::string(ref.substr(0, dot)), std::string(ref.substr(dot + 1))};
}

std::vector<std::string> depends_steps(std::string_view depends) {
  std::vector<std::string> out;
  auto parsed = expr::Expr::parse(depends);
  if (auto* e = std::get_if<expr::Expr>(&parsed))
    for (const auto& ref : e->refs()) {
      std::string step = parse_depends_term(ref).step;
      if (std::find(out.begin(), out.end(), step) == out.end()) out.push_back(std::move(step));
    }
  return out;
}

}  // namespace ctflow
