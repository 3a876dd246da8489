#include "store/tree_manifest.h"

#include <algorithm>
#include <sstream>

namespace ctflow {

namespace {

constexpr const char* kHeader = "ctflow-tree-v1";

std::string escape_path(const std::string& p) {
  std::string out;
  for (char c : p) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::optional<std::string> unescape_path(const std::string& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '\\') {
      out += p[i];
      continue;
    }
    if (++i == p.size()) return std::nullopt;
    if (p[i] == '\\') out += '\\';
    else if (p[i] == 'n') out += '\n';
    else return std::nullopt;
  }
  return out;
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string encode_manifest(std::vector<ManifestEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  std::string out = std::string(kHeader) + "\n";
  for (const auto& e : entries)
    out += e.hex + " " + std::to_string(e.size) + " " + (e.exec ? "x" : "-") + " " + escape_path(e.path) + "\n";
  return out;
}

Result<std::vector<ManifestEntry>> decode_manifest(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kHeader) return Status::Error("not a ctflow tree manifest");
  std::vector<ManifestEntry> entries;
  int n = 1;
  while (std::getline(in, line)) {
    ++n;
    ManifestEntry e;
    size_t a = line.find(' '), b = a == std::string::npos ? a : line.find(' ', a + 1);
    size_t c = b == std::string::npos ? b : line.find(' ', b + 1);
    if (c == std::string::npos || c != b + 2) return Status::Error("bad manifest line " + std::to_string(n));
    e.hex = line.substr(0, a);
    try {
      e.size = std::stoll(line.substr(a + 1, b - a - 1));
    } catch (...) {
      return Status::Error("bad manifest line " + std::to_string(n));
    }
    char mode = line[b + 1];
    auto path = unescape_path(line.substr(c + 1));
    if (!is_hex64(e.hex) || (mode != 'x' && mode != '-') || !path || path->empty() || e.size < 0)
      return Status::Error("bad manifest line " + std::to_string(n));
    e.exec = mode == 'x';
    e.path = *path;
    // Never let a manifest point outside its tree.
    std::filesystem::path p(e.path);
    if (p.is_absolute() || std::any_of(p.begin(), p.end(), [](const auto& part) { return part == ".."; }))
      return Status::Error("bad manifest line " + std::to_string(n) + ": path leaves the tree");
    entries.push_back(std::move(e));
  }
  return entries;
}

std::optional<std::string> digest_hex(const std::string& digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::string hex = digest.substr(kPrefix.size());
  if (!is_hex64(hex)) return std::nullopt;
  return hex;
}

std::filesystem::path file_blob_path(const std::filesystem::path& blobs, const std::string& hex, bool exec) {
  return blobs / "sha256" / hex.substr(0, 2) / (hex.substr(2) + (exec ? "x" : ""));
}

std::filesystem::path tree_path(const std::filesystem::path& blobs, const std::string& hex) {
  return blobs / "trees" / hex;
}

}  // namespace ctflow
