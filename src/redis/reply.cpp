#include <strata/redis/reply.hpp>

namespace strata::redis {
namespace {

void quote(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void describe_into(std::string& out, const Reply& reply) {
  switch (reply.type()) {
    case Reply::Type::status: out += reply.text(); break;
    case Reply::Type::error: out += "(error) " + reply.text(); break;
    case Reply::Type::integer: out += "(integer) " + std::to_string(reply.integer_value()); break;
    case Reply::Type::string: quote(out, reply.text()); break;
    case Reply::Type::nil: out += "(nil)"; break;
    case Reply::Type::array:
      out.push_back('[');
      for (std::size_t i = 0; i < reply.elements().size(); ++i) {
        if (i > 0) out += ", ";
        describe_into(out, reply.elements()[i]);
      }
      out.push_back(']');
      break;
  }
}

}  // namespace

std::string Reply::describe() const {
  std::string out;
  describe_into(out, *this);
  return out;
}

}  // namespace strata::redis
