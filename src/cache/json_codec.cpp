#include <strata/cache/codec.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace strata::detail {

std::string json_serialize(const boost::json::value& value) { return boost::json::serialize(value); }

std::optional<boost::json::value> json_parse(std::string_view bytes) {
  boost::system::error_code error;
  auto value = boost::json::parse(bytes, error);
  if (error) return std::nullopt;
  return value;
}

}  // namespace strata::detail
