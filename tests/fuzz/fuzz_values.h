// Values the fuzz resolvers hand out: one of each type, plus awkward ones
// (a numeric string, invalid UTF-8, the largest unsigned, a string with quotes).
#pragma once

#include <cstdint>
#include <string>

#include "engine/ir.h"

namespace ctflow::fuzz {

inline Value value_for(const std::string& ref) {
  unsigned sum = 0;
  for (unsigned char c : ref) sum = sum * 31 + c;
  switch (sum % 14) {
    case 0: return 3;
    case 1: return 2.5;
    case 2: return "3";
    case 3: return "abc";
    case 4: return true;
    case 5: return false;
    case 6: return nullptr;
    case 7: return Value::array({1, "two"});
    case 8: return Value{{"a", 1}};
    case 9: return std::string("\xff\xfe{{");
    case 10: return static_cast<uint64_t>(18446744073709551615ULL);
    case 11: return -0.0;
    case 12: return "a b' -c \"q\"";
    default: return std::string(100, 'x');
  }
}

}  // namespace ctflow::fuzz
