#include "gateway/route.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/grammar/hexdig_chars.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>

namespace strata::gateway {

namespace urls = boost::urls;

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

void append_escaped(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 15]);
}

// What RFC 3986 lets stand unescaped in a path segment and in a query.
constexpr urls::grammar::lut_chars kPathChars = urls::pchars + '/';
constexpr urls::grammar::lut_chars kQueryChars = urls::pchars + '/' + '?';

bool starts_escape(std::string_view text, std::size_t i) {
  return i + 2 < text.size() && urls::grammar::hexdig_value(text[i + 1]) >= 0 &&
         urls::grammar::hexdig_value(text[i + 2]) >= 0;
}

// Bytes a client may send raw that RFC 3986 wants escaped (UTF-8, '"', '{', '|', ...) become
// %XX, as a browser would send them. In the query a '%' that starts no escape is taken
// literally (%25); in the path it stays, and the parser refuses it.
std::string escape_raw_bytes(std::string_view text, const urls::grammar::lut_chars& allowed, bool query) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '%' && query && !starts_escape(text, i)) out += "%25";
    else if (c == '%' || allowed(static_cast<char>(c))) out.push_back(static_cast<char>(c));
    else append_escaped(out, c);
  }
  return out;
}

// RFC 3986 6.2.2: an escaped unreserved character is decoded, other escapes upper-cased. A raw
// reserved character stays raw and an escaped one escaped: origins may tell ";" from "%3B".
std::string normalized_escapes(urls::pct_string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    const auto value = static_cast<unsigned char>(urls::grammar::hexdig_value(segment[i + 1]) * 16 +
                                                  urls::grammar::hexdig_value(segment[i + 2]));
    if (urls::unreserved_chars(static_cast<char>(value))) out.push_back(static_cast<char>(value));
    else append_escaped(out, value);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    segments.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  auto valid = urls::make_pct_string_view(text);
  if (!valid) return std::nullopt;
  urls::encoding_opts options;
  options.space_as_plus = plus_is_space;
  return valid->decode(options);
}

std::string percent_encode(std::string_view text) { return urls::encode(text, urls::unreserved_chars); }

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<Target> normalize_target(std::string_view raw, std::string* error) {
  auto refuse = [&](std::string message) -> std::optional<Target> {
    *error = std::move(message);
    return std::nullopt;
  };
  if (raw.empty() || raw.front() != '/') {
    return refuse("the request target must be a path starting with '/' (origin-form)");
  }
  // A fragment is the client's own business: nothing from '#' on names the resource.
  raw = raw.substr(0, raw.find('#'));
  const auto question = raw.find('?');
  const std::string_view path = raw.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view{} : raw.substr(question + 1);
  const auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (std::any_of(path.begin(), path.end(), control)) return refuse("the path contains a control character");
  if (std::any_of(query.begin(), query.end(), control)) return refuse("the query contains a control character");
  if (path.find('\\') != std::string_view::npos) return refuse("the path contains '\\'");

  std::string escaped = escape_raw_bytes(path, kPathChars, false);
  if (question != std::string_view::npos) escaped += "?" + escape_raw_bytes(query, kQueryChars, true);
  const auto parsed = urls::parse_origin_form(escaped);
  if (!parsed) {
    return refuse("the path has a malformed percent-escape: '%' must be followed by two hex digits (write a "
                  "literal '%' as %25)");
  }

  // Dot segments and empty ones are resolved on the decoded segment, so that "%2e%2e" climbs as
  // ".." does; what would change the path's structure is refused.
  std::vector<std::string> kept;
  for (const auto segment : parsed->encoded_segments()) {
    const std::string decoded = segment.decode();
    if (decoded.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
      return refuse("the path contains an encoded '/', '\\' or NUL (%2F, %5C, %00), which origins "
                    "interpret differently");
    }
    if (decoded == ".") continue;
    if (decoded == "..") {
      if (kept.empty()) return refuse("the path climbs above the root with '..'");
      kept.pop_back();
      continue;
    }
    if (decoded.empty()) continue;
    kept.push_back(normalized_escapes(segment));
  }
  Target target;
  target.path = "/";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) target.path.push_back('/');
    target.path.append(kept[i]);
  }
  // A trailing slash is part of the resource name for many frameworks: keep it.
  if (path.size() > 1 && path.back() == '/' && target.path.size() > 1) target.path.push_back('/');
  target.query = std::string(parsed->encoded_query());
  return target;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  const auto params = urls::parse_query(query);
  if (!params) return pairs;
  urls::encoding_opts plus_is_space;
  plus_is_space.space_as_plus = true;
  for (const auto param : *params) {
    if (param.key.empty() && !param.has_value) continue;  // "a=1&&b=2"
    pairs.emplace_back(param.key.decode(plus_is_space), param.has_value ? param.value.decode(plus_is_space) : "");
  }
  return pairs;
}

std::optional<PathTemplate> PathTemplate::compile(std::string_view text, std::string* error) {
  if (text.empty() || text.front() != '/') {
    *error = "a path template starts with '/', e.g. \"/api/jobs/{id}\"";
    return std::nullopt;
  }
  PathTemplate compiled;
  for (auto segment : split_segments(text)) {
    if (segment.empty() && text.size() > 1) {
      *error = "\"" + std::string(text) + "\" has an empty segment";
      return std::nullopt;
    }
    if (segment.empty()) continue;
    const bool open = segment.front() == '{';
    const bool close = segment.back() == '}';
    if (open != close || (open && segment.size() < 3) ||
        segment.find_first_of("{}", 1) < segment.size() - (close ? 1 : 0)) {
      *error = "\"" + std::string(segment) + "\" in \"" + std::string(text) +
               "\": a variable is a whole segment such as {id}";
      return std::nullopt;
    }
    std::string name(open ? segment.substr(1, segment.size() - 2) : segment);
    if (open && name == "user") {
      *error = "{user} is reserved for the caller's identity; name the path variable differently";
      return std::nullopt;
    }
    compiled.segments_.push_back(Segment{std::move(name), open});
  }
  return compiled;
}

std::optional<Variables> PathTemplate::match(std::string_view path) const {
  if (path.empty() || path.front() != '/') return std::nullopt;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string_view> segments;
  if (path.size() > 1) segments = split_segments(path);
  if (segments.size() != segments_.size()) return std::nullopt;
  Variables variables;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (segments_[i].variable) {
      if (segments[i].empty()) return std::nullopt;
      auto value = percent_decode(segments[i], false);
      if (!value) return std::nullopt;
      variables.emplace(segments_[i].text, std::move(*value));
    } else if (segments[i] != segments_[i].text) {
      return std::nullopt;
    }
  }
  return variables;
}

std::string PathTemplate::default_namespace() const {
  std::string chosen;
  for (const auto& segment : segments_) {
    if (segment.variable) break;
    chosen = segment.text;
  }
  return chosen.empty() ? "http" : chosen;
}

std::optional<std::string> PathTemplate::unknown_variable(std::string_view text) const {
  std::size_t start = 0;
  while ((start = text.find('{', start)) != std::string_view::npos) {
    const auto end = text.find('}', start);
    if (end == std::string_view::npos) return std::string(text.substr(start));
    const auto name = text.substr(start + 1, end - start - 1);
    const bool known = name == "user" || std::any_of(segments_.begin(), segments_.end(), [&](const Segment& s) {
                         return s.variable && s.text == name;
                       });
    if (!known) return std::string(name);
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> expand(std::string_view text, const Variables& variables) {
  std::string out;
  std::size_t position = 0;
  while (position < text.size()) {
    const auto open = text.find('{', position);
    if (open == std::string_view::npos) {
      out.append(text.substr(position));
      break;
    }
    out.append(text.substr(position, open - position));
    const auto close = text.find('}', open);
    if (close == std::string_view::npos) return std::nullopt;
    const auto found = variables.find(text.substr(open + 1, close - open - 1));
    if (found == variables.end()) return std::nullopt;
    out.append(found->second);
    position = close + 1;
  }
  return out;
}

}  // namespace strata::gateway
