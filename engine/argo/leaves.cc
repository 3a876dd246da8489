// A container or script template -> one IR step that runs through the prologue:
// paths, inputs and outputs staged under the step's working directory, env and
// Kubernetes $(VAR) expansion, retries, timeouts, the image.
#include "engine/argo/translator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace ctflow::argo_detail {

namespace fs = std::filesystem;

// Runs every Argo step. Arguments: directives, then "--", then the command.
// Paths in directives are relative to the step's working directory W; the
// marker @POD@ stands for the step instance's name ({{pod.name}}).
//   dir P | parent P | copy P SRC | raw P DATA | script P SOURCE |
//   volume P NAME (P links to the run's shared folder NAME) | cd P |
//   out P SAVED (after the command, a copy of P is kept as SAVED) |
//   param MESSAGE WANT GOT (the step fails with MESSAGE unless GOT, a workflow
//   parameter's value in this run, is WANT, the value the translation read)
const char* const kPrologue = R"SH(W=$PWD; pod=$(printf '%s' "$CTFLOW_STEP" | tr '[]' '..' | sed 's/\.$//')
sub() { r=; s=$1; while :; do case "$s" in *@POD@*) r="$r${s%%@POD@*}$pod"; s=${s#*@POD@};; *) r="$r$s"; return;; esac; done; }
outs=; into=
while [ "$#" -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    dir) sub "$2"; mkdir -p "$W/$r" || exit 1; shift 2 ;;
    parent) sub "$2"; mkdir -p "$(dirname "$W/$r")" || exit 1; shift 2 ;;
    copy) sub "$2"; mkdir -p "$(dirname "$W/$r")" && cp -R "$3" "$W/$r" && chmod -R u+w "$W/$r" || exit 1; shift 3 ;;
    raw) sub "$2"; mkdir -p "$(dirname "$W/$r")" && printf '%s' "$3" > "$W/$r" || exit 1; shift 3 ;;
    script) sub "$2"; printf '%s' "$3" > "$W/$r" && chmod +x "$W/$r" || exit 1; shift 3 ;;
    volume) sub "$2"; v="$(cd ../.. && pwd)/argo-volumes/$3"; mkdir -p "$v" "$(dirname "$W/$r")" && ln -sfn "$v" "$W/$r" || exit 1; shift 3 ;;
    cd) sub "$2"; into=$r; shift 2 ;;
    param) if [ "$3" != "$4" ]; then printf '%s\n' "$2" >&2; exit 2; fi; shift 4 ;;
    out) sub "$2"; outs="$outs$r
$3
"; shift 3 ;;
    *) echo "ctflow-argo: unknown directive '$1'" >&2; exit 2 ;;
  esac
done
n=$#; while [ "$n" -gt 0 ]; do sub "$1"; shift; set -- "$@" "$r"; n=$((n-1)); done
if [ "$1" = python ] && ! command -v python >/dev/null 2>&1; then shift; set -- python3 "$@"; fi
if [ -n "$into" ]; then mkdir -p "$W/$into" && cd "$W/$into" || exit 1; fi
"$@"; rc=$?
printf '%s' "$outs" | while IFS= read -r p && IFS= read -r saved; do
  if [ -e "$W/$p" ]; then mkdir -p "$(dirname "$W/$saved")" && cp -R "$W/$p" "$W/$saved"; fi
done
exit $rc)SH";

const char* const kSaved = ".argo-outputs";

namespace {

// `EXECUTOR image inspect IMAGE`: the image's ENTRYPOINT and CMD, or nothing when it is not local.
std::optional<ImageConfig> inspect_with_runtime(const std::string& executor, const std::string& image) {
  static const std::regex kImage("[A-Za-z0-9][A-Za-z0-9._/:@-]*");
  if (!std::regex_match(image, kImage)) return std::nullopt;
  std::string cmd = executor + " image inspect --format '{{json .Config.Entrypoint}}|{{json .Config.Cmd}}' " +
                    image + " 2>/dev/null";
  FILE* f = popen(cmd.c_str(), "r");  // NOLINT: the name is checked above
  if (!f) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  if (pclose(f) != 0) return std::nullopt;
  ImageConfig c;
  size_t bar = out.find('|');
  if (bar == std::string::npos) return c;
  auto list = [](const std::string& j) {
    std::vector<std::string> v;
    Value x = Value::parse(j, nullptr, false);
    if (x.is_array())
      for (const auto& e : x)
        if (e.is_string()) v.push_back(e.get<std::string>());
    return v;
  };
  c.entrypoint = list(out.substr(0, bar));
  c.cmd = list(out.substr(bar + 1));
  return c;
}

}  // namespace

const std::optional<ImageConfig>& Translator::image_config(const std::string& image) {
  auto it = local_images_.find(image);
  if (it != local_images_.end()) return it->second;
  auto c = opt_.inspect_image ? opt_.inspect_image(opt_.executor, image) : inspect_with_runtime(opt_.executor, image);
  return local_images_[image] = std::move(c);
}

void Translator::apply_retry(const YAML::Node& r, Step& s) {
  if (!r) return;
  for (const auto& kv : r) {
    std::string k = scalar(kv.first);
    if (k != "expression" && k != "limit" && k != "retryPolicy" && k != "backoff" && k != "affinity")
      unsupported(kv.first, "retryStrategy." + k);
  }
  Value limit = val(r["limit"]);
  if (limit.is_string() && std::regex_match(limit.get<std::string>(), std::regex("[0-9]+")))
    limit = std::stoi(limit.get<std::string>());
  if (r["limit"] && !limit.is_number_integer()) error(r["limit"], "retryStrategy.limit must be an integer");
  s.retry.limit = limit.is_number_integer() ? limit.get<int>() : (r["limit"] ? 0 : 1 << 20);
  s.retry.backoff_s = 0;
  s.retry.factor = 1;
  std::string policy = scalar(r["retryPolicy"]);
  if (policy.empty() || policy == "OnFailure") {
    s.retry.on_error = false;
  } else if (policy == "OnError" || policy == "OnTransientError") {
    s.retry.on_failed = s.retry.on_timeout = false;
  } else if (policy != "Always") {
    error(r["retryPolicy"], "unknown retryPolicy '" + policy + "'" +
                                did_you_mean(policy, {"Always", "OnFailure", "OnError", "OnTransientError"}));
  }
  if (YAML::Node b = r["backoff"]) {
    auto dur = [&](const YAML::Node& n) -> double {
      std::string v = text_of(val(n));
      auto d = parse_duration(v);
      if (!d) error(n, "a duration like 10s, 2m or 1h is expected; got '" + v + "'");
      return d.value_or(0);
    };
    if (b["duration"]) s.retry.backoff_s = dur(b["duration"]);
    if (b["factor"]) {
      Value f = val(b["factor"]);
      if (f.is_string()) f = std::atof(f.get<std::string>().c_str());
      s.retry.factor = f.is_number() ? std::max(1.0, f.get<double>()) : 1;
    }
    if (b["maxDuration"]) s.retry.max_backoff_s = dur(b["maxDuration"]);
  }
}

namespace {

// A path the template declares, relative to the step's working directory:
// "/tmp/out.txt" -> "tmp/out.txt"; a relative path as it is.
std::string rel(std::string p) {
  if (p.empty() || p[0] != '/') return p;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p.substr(1);
}

}  // namespace

// What make_leaf gathers for one container or script template.
struct Leaf {
  const YAML::Node& t;
  YAML::Node body;
  bool script = false;
  Ctx& c;
  Step& s;
  Callee& info;
  bool ok = true;
  std::string work_dir;                                // the template's workingDir (after references, once known)
  std::map<std::string, std::string> mounts;           // mountPath -> volume
  std::vector<std::string> abs;                        // absolute paths the command may write
  std::vector<std::string> pre;                        // prologue directives
  std::vector<std::pair<std::string, std::string>> outs;  // path -> where its copy is kept
  std::map<std::string, std::string> env;              // the container's env, for $(VAR)
  std::vector<std::string> env_args;
  std::vector<std::string> argv;

  // An absolute path as seen from where the command runs.
  std::string from_cwd(const std::string& p) const {
    if (work_dir.empty()) return rel(p);
    std::string r = fs::path(p).lexically_relative(fs::path(work_dir)).string();
    return r.empty() ? std::string(".") : r;
  }

  // S2 with each absolute path of `abs` that stands as a word rewritten from_cwd.
  std::string rewrite(std::string s2) const {
    for (const auto& p0 : abs) {
      std::string p = p0;
      while (p.size() > 1 && p.back() == '/') p.pop_back();
      if (p.size() < 2 || p[0] != '/') continue;
      size_t at = 0;
      while ((at = s2.find(p, at)) != std::string::npos) {
        char before = at == 0 ? ' ' : s2[at - 1];
        char after = at + p.size() < s2.size() ? s2[at + p.size()] : ' ';
        bool word = std::isalnum(static_cast<unsigned char>(before)) || before == '.' || before == '_' ||
                    before == '-' || before == '/' || std::isalnum(static_cast<unsigned char>(after)) ||
                    after == '.' || after == '_' || after == '-';
        if (word) {
          at += p.size();
          continue;
        }
        std::string r = from_cwd(p);
        s2.replace(at, p.size(), r);
        at += r.size();
      }
    }
    return s2;
  }

  // Kubernetes' $(VAR) from the container's env, and $$ -> $.
  std::string k8s(const std::string& s2) const {
    std::string out;
    for (size_t i = 0; i < s2.size(); ++i) {
      if (s2[i] == '$' && i + 1 < s2.size() && s2[i + 1] == '$') {
        out += '$';
        ++i;
      } else if (s2[i] == '$' && i + 1 < s2.size() && s2[i + 1] == '(') {
        size_t close = s2.find(')', i);
        std::string name = close == std::string::npos ? "" : s2.substr(i + 2, close - i - 2);
        auto f = env.find(name);
        if (f != env.end()) {
          out += f->second;
          i = close;
        } else {
          out += s2[i];
        }
      } else {
        out += s2[i];
      }
    }
    return out;
  }
};

bool Translator::make_leaf(const YAML::Node& t, Ctx& c, Step& s, Callee& info) {
  const bool script = static_cast<bool>(t["script"]);
  Leaf l{t, script ? t["script"] : t["container"], script, c, s, info};
  check_keys(l.body, kContainerHandled, kContainerIgnored, script ? "script." : "container.");
  for (const char* k : {"sidecars", "initContainers", "volumes", "daemon", "synchronization"})
    if (t[k]) unsupported(t[k], k);
  // Where the template's paths live: under the step's working directory.
  l.work_dir = scalar(l.body["workingDir"]);
  leaf_mounts(l);
  leaf_input_artifacts(l);
  leaf_output_parameters(l);
  leaf_output_artifacts(l);
  if (!leaf_working_dir(l)) return false;
  // Longest first, so /tmp/a/b is rewritten before /tmp/a.
  std::sort(l.abs.begin(), l.abs.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  leaf_env(l);
  if (!leaf_argv(l) || !l.ok) return false;
  const bool host = opt_.executor.empty() || opt_.executor == "host";
  if (host && !l.argv.empty() && l.argv[0] == "ctflow" && !opt_.ctflow_binary.empty()) l.argv[0] = opt_.ctflow_binary;
  if (!host && !leaf_image(l)) return false;
  s.kind = StepKind::Run;
  s.kind_pos = pos(l.body);
  s.run = {"/bin/sh", "-c", kPrologue, "ctflow-argo"};
  s.run.insert(s.run.end(), l.pre.begin(), l.pre.end());
  for (const auto& [p, saved] : l.outs) s.run.insert(s.run.end(), {"out", p, saved});
  s.run.push_back("--");
  if (!l.env_args.empty()) {
    s.run.push_back("env");
    s.run.insert(s.run.end(), l.env_args.begin(), l.env_args.end());
  }
  s.run.insert(s.run.end(), l.argv.begin(), l.argv.end());
  leaf_settings(t, l.body, s);
  // retryStrategy.expression: its {{...}} as ctflow text; lastRetry.* are read by the run.
  YAML::Node rs = t["retryStrategy"] ? t["retryStrategy"] : path(defaults_, {"retryStrategy"});
  if (YAML::Node e = path(rs, {"expression"})) {
    auto x = text(text_of(val(e)), e, c);
    if (!x) return false;
    s.retry.expression = *x;
  }
  return true;
}

void Translator::leaf_mounts(Leaf& l) {
  for (const auto& m : l.body["volumeMounts"]) {
    std::string v = scalar(m["name"]);
    if (!volumes_.count(v)) {
      unsupported(m, "volume '" + v + "' (only volumes from spec.volumeClaimTemplates are shared folders here)");
      l.ok = false;
    }
    l.mounts[scalar(m["mountPath"])] = v;
  }
  if (!l.mounts.empty() && !opt_.executor.empty() && opt_.executor != "host") {
    unsupported(l.body["volumeMounts"], "volumes with a container executor");
    l.ok = false;
  }
  for (const auto& [mp, v] : l.mounts) {
    l.pre.insert(l.pre.end(), {"volume", rel(mp), v});
    l.abs.push_back(mp);
  }
}

void Translator::leaf_input_artifacts(Leaf& l) {
  for (const auto& a : path(l.t, {"inputs", "artifacts"})) {
    std::string n = scalar(a["name"]), p = scalar(a["path"]);
    if (p.empty()) continue;
    l.c.paths["inputs.artifacts." + n + ".path"] = l.from_cwd(p);
    l.abs.push_back(p);
    auto src = l.c.paths.find("inputs.artifacts." + n + ".source");
    auto raw = l.c.paths.find("inputs.artifacts." + n + ".raw");
    if (src != l.c.paths.end()) l.pre.insert(l.pre.end(), {"copy", rel(p), src->second});
    else if (raw != l.c.paths.end()) l.pre.insert(l.pre.end(), {"raw", rel(p), raw->second});
  }
}

void Translator::leaf_output_parameters(Leaf& l) {
  for (const auto& op : path(l.t, {"outputs", "parameters"})) {
    std::string n = scalar(op["name"]);
    YAML::Node vf = path(op, {"valueFrom"});
    for (const auto& kv : vf) {
      std::string k = scalar(kv.first);
      if (k != "path" && k != "default") {
        unsupported(kv.first, "output parameters from valueFrom." + k);
        l.ok = false;
      }
    }
    std::string p = scalar(vf["path"]);
    if (p.empty()) {
      if (l.ok) error(op, "output parameter '" + n + "' needs valueFrom.path");
      l.ok = false;
      continue;
    }
    auto tp = text(p, vf["path"], l.c);
    if (!tp) {
      l.ok = false;
      continue;
    }
    l.c.paths["outputs.parameters." + n + ".path"] = l.from_cwd(*tp);
    l.abs.push_back(*tp);
    l.pre.insert(l.pre.end(), {"parent", rel(*tp)});
    std::string saved = std::string(kSaved) + "/parameters/" + n;
    l.outs.emplace_back(rel(*tp), saved);
    OutputParamDecl d;
    d.path = saved;
    if (YAML::Node def = vf["default"]) d.default_value = Value(text_of(val(def)));
    l.s.output_params[ir_param(n)] = d;
    l.info.params.insert(n);
  }
}

void Translator::leaf_output_artifacts(Leaf& l) {
  for (const auto& oa : path(l.t, {"outputs", "artifacts"})) {
    std::string n = scalar(oa["name"]);
    for (const auto& store : kExternalStores)
      if (oa[store]) {
        unsupported(oa[store], "artifacts to an external store (" + store + ")");
        l.ok = false;
      }
    std::string p = scalar(oa["path"]);
    if (p.empty()) {
      error(oa, "output artifact '" + n + "' needs a 'path'");
      l.ok = false;
      continue;
    }
    auto tp = text(p, oa["path"], l.c);
    if (!tp) {
      l.ok = false;
      continue;
    }
    l.c.paths["outputs.artifacts." + n + ".path"] = l.from_cwd(*tp);
    l.abs.push_back(*tp);
    l.pre.insert(l.pre.end(), {p.back() == '/' ? "dir" : "parent", rel(*tp)});
    std::string saved = std::string(kSaved) + "/artifacts/" + n;
    l.outs.emplace_back(rel(*tp), saved);
    l.s.output_artifacts[n] = OutputArtifactDecl{saved};
    l.info.artifacts.insert(n);
  }
}

bool Translator::leaf_working_dir(Leaf& l) {
  if (l.work_dir.empty()) return true;
  auto w = text(l.work_dir, l.body["workingDir"], l.c);
  if (!w) return false;
  bool in_mount = false;
  for (const auto& [mp, v] : l.mounts) in_mount = in_mount || w->rfind(mp, 0) == 0;
  for (const auto& p : l.abs) {
    bool p_in = false;
    for (const auto& [mp, v] : l.mounts) p_in = p_in || p.rfind(mp, 0) == 0;
    if (p_in != in_mount) {
      unsupported(l.body["workingDir"], "a workingDir and paths that are not all in one volume");
      return false;
    }
  }
  l.work_dir = *w;
  l.pre.insert(l.pre.end(), {"cd", rel(*w)});
  return true;
}

void Translator::leaf_env(Leaf& l) {
  for (const auto& e : l.body["env"]) {
    std::string n = scalar(e["name"]);
    if (e["valueFrom"]) {
      unsupported(e["valueFrom"], "env from valueFrom (secrets, configMaps, fields)");
      l.ok = false;
      continue;
    }
    auto v = text(l.rewrite(text_of(val(e["value"]))), e["value"], l.c);
    if (!v) {
      l.ok = false;
      continue;
    }
    l.env[n] = *v;
    l.env_args.push_back(n + "=" + *v);
  }
}

bool Translator::leaf_argv(Leaf& l) {
  YAML::Node command = path(l.body, {"command"});
  YAML::Node args = path(l.body, {"args"});
  const bool has_command = command && command.IsSequence() && command.size() > 0;
  const std::string what = std::string(l.script ? "script" : "container") + " template '" + scalar(l.t["name"]) + "'";
  // No command: as in Kubernetes, the image's ENTRYPOINT, then `args` if given, else its CMD.
  std::vector<std::string> image_argv;
  if (!has_command) {
    const bool host = opt_.executor.empty() || opt_.executor == "host";
    std::string image = scalar(l.body["image"]);
    if (host) {
      unsupported(l.body, what + " without 'command' (on the host the image's entrypoint is unknown): add 'command', "
                                 "or run in the image with --executor podman (or docker)");
      return false;
    }
    if (image.find("{{") != std::string::npos) {
      unsupported(l.body["image"], what + " without 'command' and an image given by '" + image +
                                       "' (its entrypoint is read from the image when the file is read): add 'command'");
      return false;
    }
    const auto& cfg = image_config(image);
    if (!cfg) return true;  // leaf_image says it is not local
    image_argv = cfg->entrypoint;
    if (!args) image_argv.insert(image_argv.end(), cfg->cmd.begin(), cfg->cmd.end());
    if (image_argv.empty() && (!args || args.size() == 0)) {
      unsupported(l.body, what + " without 'command', and image '" + image +
                              "' has neither an ENTRYPOINT nor a CMD: add 'command'");
      return false;
    }
  }
  l.argv = image_argv;
  for (const YAML::Node& list : {has_command ? command : YAML::Node(), args}) {
    if (!list) continue;
    for (const auto& a : list) {
      std::string raw = text_of(val(a));
      auto v = text(l.script ? l.rewrite(raw) : l.k8s(l.rewrite(raw)), a, l.c);
      if (!v) l.ok = false;
      else l.argv.push_back(*v);
    }
  }
  if (l.script) {
    auto src = text(l.rewrite(scalar(l.body["source"])), l.body["source"], l.c);
    if (!src) return false;
    l.pre.insert(l.pre.end(), {"script", "ctflow-argo-script", *src});
    l.argv.push_back(l.work_dir.empty() ? "./ctflow-argo-script" : l.from_cwd("/ctflow-argo-script"));
  }
  return true;
}

bool Translator::leaf_image(Leaf& l) {
  auto img = text(scalar(l.body["image"]), l.body["image"], l.c);
  if (!img) return false;
  if (img->find("{{") == std::string::npos && !image_config(*img)) {
    unsupported(l.body["image"], "image '" + *img + "' is not in the local " + opt_.executor +
                                     " store, and nothing is pulled here: build or load it, or run on the host");
    return false;
  }
  l.s.image = *img;
  l.s.image_pos = pos(l.body["image"]);
  return true;
}

// Settings: the template's, else templateDefaults'.
void Translator::leaf_settings(const YAML::Node& t, const YAML::Node& body, Step& s) {
  auto setting = [&](const char* k) { return t[k] ? t[k] : defaults_[k]; };
  apply_retry(setting("retryStrategy"), s);
  if (YAML::Node to = setting("timeout")) {
    auto d = parse_duration(text_of(val(to)));
    if (!d) error(to, "timeout must be a duration like 30s or 5m");
    else s.timeout_s = *d;
  }
  if (YAML::Node ad = setting("activeDeadlineSeconds")) {
    auto d = parse_duration(text_of(val(ad)));
    if (!d) error(ad, "activeDeadlineSeconds must be a number of seconds");
    else s.timeout_s = s.timeout_s > 0 ? std::min(s.timeout_s, *d) : *d;
  }
  if (t["memoize"]) s.cache = true;
  Value gpu = val(path(body, {"resources", "limits", "nvidia.com/gpu"}));
  if (gpu.is_string()) gpu = std::atoi(gpu.get<std::string>().c_str());
  if (gpu.is_number_integer()) s.resources.gpu = gpu.get<int>();
  s.network = true;
}

}  // namespace ctflow::argo_detail

namespace ctflow::argo_detail {

// A suspend template, under --resume-suspended: a step that waits out
// suspend.duration (or nothing) and says so; each valueFrom.supplied output is
// its valueFrom.default, else the template's input parameter of that name.
bool Translator::make_suspend(const YAML::Node& t, Ctx& c, Step& s, Callee& info) {
  const YAML::Node sp = t["suspend"];
  check_keys(sp, {"duration"}, {}, "suspend.");
  double seconds = 0;
  std::string said = "suspend: resumed at once (--resume-suspended)";
  if (YAML::Node d = sp["duration"]) {
    auto txt = text(text_of(val(d)), d, c);
    if (!txt) return false;
    if (!at_load(*txt, d, "suspend.duration", "a suspend.duration known only at run time")) return false;
    auto secs = parse_duration(*txt);
    if (!secs || *secs < 0) {
      error(d, "suspend.duration '" + *txt + "' is not a duration: write seconds or 30s, 5m, 2h");
      return false;
    }
    seconds = *secs;
    said = "suspend: waited out its duration " + *txt + " (--resume-suspended)";
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", seconds);
  std::string script = std::string("sleep ") + secs + " && printf '%s\\n' \"$0\" && mkdir -p " + kSaved +
                       "/parameters";
  std::vector<std::string> values;
  bool ok = true;
  for (const auto& op : path(t, {"outputs", "parameters"})) {
    std::string n = scalar(op["name"]);
    YAML::Node vf = path(op, {"valueFrom"});
    std::optional<std::string> v;
    if (!vf["supplied"] && !vf["default"]) {
      unsupported(op, "output parameter '" + n + "' of a suspend template other than valueFrom.supplied");
      ok = false;
      continue;
    }
    if (YAML::Node def = vf["default"]) v = text(text_of(val(def)), def, c);
    else if (c.params.count(n)) v = c.params[n];
    else {
      unsupported(vf, "valueFrom.supplied output '" + n + "' without a default (in Argo a person gives it when "
                      "resuming): add valueFrom.default, or an input parameter '" + n + "' with a default");
      ok = false;
      continue;
    }
    if (!v) {
      ok = false;
      continue;
    }
    values.push_back(*v);
    std::string saved = std::string(kSaved) + "/parameters/" + n;
    script += " && printf '%s' \"$" + std::to_string(values.size()) + "\" > '" + saved + "'";
    OutputParamDecl decl;
    decl.path = saved;
    s.output_params[ir_param(n)] = decl;
    info.params.insert(n);
  }
  if (!ok) return false;
  s.kind = StepKind::Run;
  s.kind_pos = pos(sp);
  s.run = {"/bin/sh", "-c", script, said};
  s.run.insert(s.run.end(), values.begin(), values.end());
  return true;
}

}  // namespace ctflow::argo_detail
