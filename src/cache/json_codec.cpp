#include <strata/cache/codec.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace strata::detail {

namespace {

// Boost.JSON 1.81 prints every double in exponent form ("4.286E1"); people read these (hit rates,
// latencies in the seeds' stats), so doubles get the shortest form that reads back exactly.
void write(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      out += "null";
      return;
    case boost::json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      return;
    case boost::json::kind::int64:
      fmt::format_to(std::back_inserter(out), "{}", value.get_int64());
      return;
    case boost::json::kind::uint64:
      fmt::format_to(std::back_inserter(out), "{}", value.get_uint64());
      return;
    case boost::json::kind::double_: {
      const double number = value.get_double();
      if (!std::isfinite(number)) {
        out += "null";  // JSON has no infinities or NaN
        return;
      }
      const auto start = out.size();
      fmt::format_to(std::back_inserter(out), "{}", number);
      // Keep it a floating-point number when read back ("3" would come back as an integer).
      if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
      return;
    }
    case boost::json::kind::string:
      out += boost::json::serialize(value.get_string());
      return;
    case boost::json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        write(out, element);
      }
      out.push_back(']');
      return;
    }
    case boost::json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, element] : value.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        out += boost::json::serialize(key);
        out.push_back(':');
        write(out, element);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

std::string json_serialize(const boost::json::value& value) {
  std::string out;
  write(out, value);
  return out;
}

std::optional<boost::json::value> json_parse(std::string_view bytes) {
  boost::system::error_code error;
  auto value = boost::json::parse(bytes, error);
  if (error) return std::nullopt;
  return value;
}

}  // namespace strata::detail
