#include "engine/graph.h"

#include <algorithm>
#include <iterator>
#include <map>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>

#include "engine/expr.h"

namespace ctflow {
namespace {

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
using Vertex = boost::graph_traits<Graph>::vertex_descriptor;

// The step names a depends expression refers to ("a.Succeeded" -> "a").
std::vector<std::string> depends_steps(const std::string& text) {
  std::vector<std::string> out;
  auto parsed = expr::Expr::parse(text);
  if (auto* e = std::get_if<expr::Expr>(&parsed))
    for (const auto& ref : e->refs()) {
      std::string step = ref.substr(0, ref.find('.'));
      if (std::find(out.begin(), out.end(), step) == out.end()) out.push_back(step);
    }
  return out;
}

}  // namespace

std::vector<std::string> direct_dependencies(const Step& step) {
  if (!step.depends.empty()) return depends_steps(step.depends);
  return step.needs;
}

std::vector<std::string> topological_order(const Workflow& wf) {
  std::map<std::string, Vertex> index;
  for (const auto& s : wf.steps) index.emplace(s.name, index.size());
  Graph g(index.size());
  for (const auto& s : wf.steps)
    for (const auto& dep : direct_dependencies(s))
      if (index.count(dep)) boost::add_edge(index[dep], index[s.name], g);
  std::vector<Vertex> order;
  boost::topological_sort(g, std::back_inserter(order));
  std::vector<std::string> out;
  for (auto it = order.rbegin(); it != order.rend(); ++it) out.push_back(wf.steps[*it].name);
  return out;
}

}  // namespace ctflow
