// Whole runs through the Scheduler over the fakes of tests/unit/scheduler_fakes.h:
// a random small workflow (steps, needs, depends, when, for_each, retries,
// timeouts, resources, fail_fast, on_exit), random attempt outcomes and
// outputs (bytes that are not UTF-8, huge values, JSON of any shape), a random
// cancel. Invariants: the run ends, with a terminal status the journal holds;
// every step has a terminal row; no attempt of a process is left running; the
// run never stalls and no handler met an internal error.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "tests/unit/scheduler_fakes.h"

using namespace ctflow;
using namespace ctflow::fake;

namespace {

std::string pick_text(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return "";
    case 1: return "[1, 2, 3]";
    case 2: return "a\377b";
    case 3: return std::string(size_t{1} << in.ConsumeIntegralInRange<int>(10, 18), '\xc3');
    case 4: return R"(["x", "y"])";
    case 5: return R"({"k": 1})";
    case 6: return "[" + std::string(in.ConsumeIntegralInRange<int>(0, 40), '[');
    case 7: return "\xed\xa0\x80";  // a lone surrogate
    case 8: return std::to_string(in.ConsumeIntegral<int>());
    default: return in.ConsumeRandomLengthString(64);
  }
}

std::string pick_ref(FuzzedDataProvider& in, int earlier) {
  std::string s = "s" + std::to_string(in.ConsumeIntegralInRange<int>(0, earlier - 1));
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: return "steps." + s + ".outputs.result";
    case 1: return "steps." + s + ".status";
    case 2: return "steps." + s + ".outputs.k";
    default: return "params.p";
  }
}

Step make_step(FuzzedDataProvider& in, int i) {
  Step st;
  st.name = "s" + std::to_string(i);
  st.kind = StepKind::Shell;
  st.shell = in.ConsumeBool() ? "echo x" : "echo {{" + (i > 0 ? pick_ref(in, i) : std::string("params.p")) + "}}";
  if (i > 0 && in.ConsumeBool()) {
    if (in.ConsumeBool()) {
      st.needs.push_back("s" + std::to_string(in.ConsumeIntegralInRange<int>(0, i - 1)));
    } else {
      const char* states[] = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted"};
      st.depends = "s" + std::to_string(in.ConsumeIntegralInRange<int>(0, i - 1)) + "." +
                   states[in.ConsumeIntegralInRange<int>(0, 4)];
    }
  }
  if (i > 0 && in.ConsumeBool())
    st.when = in.ConsumeBool() ? pick_ref(in, i) + " == 'x'" : in.ConsumeRandomLengthString(24);
  if (in.ConsumeBool()) {
    if (i > 0 && in.ConsumeBool()) {
      st.for_each = Value("{{" + pick_ref(in, i) + "}}");
    } else {
      Value list = Value::array();
      for (int k = in.ConsumeIntegralInRange<int>(0, 5); k > 0; --k) list.push_back(pick_text(in));
      st.for_each = list;
      st.shell = "echo {{item}}";
    }
    st.parallelism = in.ConsumeIntegralInRange<int>(0, 3);
  }
  if (in.ConsumeBool()) {
    st.retry.limit = in.ConsumeIntegralInRange<int>(0, 3);
    st.retry.backoff_s = in.ConsumeIntegralInRange<int>(0, 8) / 4.0;
    st.retry.on_timeout = in.ConsumeBool();
    st.retry.on_error = in.ConsumeBool();
  }
  if (in.ConsumeBool()) st.timeout_s = in.ConsumeIntegralInRange<int>(1, 20) / 4.0;
  if (in.ConsumeBool()) st.resources.cpu = in.ConsumeIntegralInRange<int>(1, 4);
  if (in.ConsumeBool()) st.cache = true;
  if (in.ConsumeBool()) st.output_params["k"] = OutputParamDecl{"k.txt", std::nullopt};
  return st;
}

Outcome pick_outcome(FuzzedDataProvider& in) {
  Outcome o;
  o.seconds = in.ConsumeIntegralInRange<int>(0, 40) / 4.0;
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: o.status = NodeStatus::Failed; o.message = "exit code 1"; o.exit_code = 1; break;
    case 1: o.status = NodeStatus::Errored; o.message = pick_text(in); break;
    default: break;
  }
  o.stdout_text = pick_text(in);
  if (in.ConsumeBool()) o.outputs["k"] = pick_text(in);
  if (in.ConsumeBool()) o.outputs = Value::parse(pick_text(in), nullptr, false);  // any shape, or discarded
  o.ignores_term = in.ConsumeBool();
  return o;
}

// Says which invariant broke, with the run's rows, then crashes (the reproducer is kept).
[[noreturn]] void broken(const char* what, const Workflow& wf, Harness& h) {
  std::fprintf(stderr, "fuzz_scheduler: %s\nrun: %s %s\n", what, h.journal.run_status["r-1"].c_str(),
               h.journal.run_message["r-1"].c_str());
  for (const auto* steps : {&wf.steps, &wf.on_exit})
    for (const Step& st : *steps)
      std::fprintf(stderr, "step %s: needs %zu depends '%s' when '%s' for_each %s retry %d timeout %g\n", st.name.c_str(),
                   st.needs.size(), st.depends.c_str(), st.when.c_str(),
                   st.for_each ? json_text(*st.for_each).substr(0, 80).c_str() : "-", st.retry.limit, st.timeout_s);
  for (const auto& [name, row] : h.journal.step_rows)
    std::fprintf(stderr, "row %s: %s %s\n", name.c_str(), row.status.c_str(), row.message.substr(0, 200).c_str());
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Workflow wf;
  wf.name = "fuzz";
  wf.fail_fast = in.ConsumeBool();
  wf.parallelism = in.ConsumeIntegralInRange<int>(0, 3);
  const int n = in.ConsumeIntegralInRange<int>(1, 8);
  for (int i = 0; i < n; ++i) wf.steps.push_back(make_step(in, i));
  if (in.ConsumeBool()) {
    Step ex;
    ex.name = "bye";
    ex.kind = StepKind::Run;
    ex.run = {"echo", "{{workflow.status}}", "{{workflow.failures}}"};
    wf.on_exit.push_back(ex);
  }

  Harness h;
  h.options.kill_grace_s = in.ConsumeIntegralInRange<int>(0, 4) / 2.0;
  h.options.host.cpus = in.ConsumeIntegralInRange<int>(1, 4);
  h.runner.script = [&in](const AttemptSpec&) { return pick_outcome(in); };
  const int cancel_at = in.ConsumeIntegralInRange<int>(-1, 30);
  const bool then_kill = in.ConsumeBool();
  int events = 0;
  h.on_event = [&](Scheduler& s, const StepEvent&) {
    if (events++ != cancel_at) return;
    s.cancel();
    if (then_kill) s.kill_now();
  };
  const Value params = {{"p", pick_text(in)}};
  const std::string status = h.run(wf, params);

  if (status != "Succeeded" && status != "Failed" && status != "Errored" && status != "Cancelled")
    broken("the run's status is not terminal", wf, h);
  if (h.journal.run_status["r-1"] != status) broken("the journal holds another run status", wf, h);
  const std::string& message = h.journal.run_message["r-1"];
  if (message.find("stalled") != std::string::npos || message.find("internal error") != std::string::npos)
    broken("the run stalled or met an internal error", wf, h);
  for (const auto* steps : {&wf.steps, &wf.on_exit})
    for (const Step& st : *steps)
      if (!h.journal.step_rows.count(st.name)) broken("a step has no row", wf, h);
  for (const auto& [name, row] : h.journal.step_rows) {
    auto s = node_status_from_string(row.status);
    if (!s || !is_terminal(*s)) broken("a row is not terminal", wf, h);
    if (row.message.find("internal error") != std::string::npos) broken("a step met an internal error", wf, h);
  }
  for (const Span& span : h.runner.spans)
    if (span.kind != AttemptKind::InProcess && span.end < 0) broken("a process attempt was left running", wf, h);
  return 0;
}
