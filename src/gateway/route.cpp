#include "gateway/route.hpp"

#include <algorithm>
#include <cctype>

namespace strata::gateway {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
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

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (is_unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

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
  const auto question = raw.find('?');
  std::string_view path = raw.substr(0, question);
  Target target;
  if (question != std::string_view::npos) target.query = std::string(raw.substr(question + 1));
  if (const auto hash = target.query.find('#'); hash != std::string::npos) target.query.resize(hash);
  for (unsigned char c : target.query) {
    if (c < 0x20 || c == 0x7f) return refuse("the query contains a control character");
  }

  // Decode what may be decoded, refuse what would change the path's structure.
  std::string decoded;
  decoded.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) return refuse("the path contains a control character");
    if (c == '\\') return refuse("the path contains '\\'");
    if (c == '#') break;
    if (c != '%') {
      decoded.push_back(static_cast<char>(c));
      continue;
    }
    if (i + 2 >= path.size() || hex_value(path[i + 1]) < 0 || hex_value(path[i + 2]) < 0) {
      return refuse("the path has a malformed percent-escape at byte " + std::to_string(i));
    }
    const auto value = static_cast<unsigned char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
    if (value == '/' || value == '\\' || value == 0) {
      return refuse("the path contains an encoded '/', '\\' or NUL (%2F, %5C, %00), which origins "
                    "interpret differently");
    }
    if (is_unreserved(value)) {
      decoded.push_back(static_cast<char>(value));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      decoded.push_back('%');
      decoded.push_back(kHex[value >> 4]);
      decoded.push_back(kHex[value & 15]);
    }
    i += 2;
  }

  std::vector<std::string_view> kept;
  for (auto segment : split_segments(decoded)) {
    if (segment == ".") continue;
    if (segment == "..") {
      if (kept.empty()) return refuse("the path climbs above the root with '..'");
      kept.pop_back();
      continue;
    }
    if (segment.empty()) continue;
    kept.push_back(segment);
  }
  target.path = "/";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) target.path.push_back('/');
    target.path.append(kept[i]);
  }
  // A trailing slash is part of the resource name for many frameworks: keep it.
  if (decoded.size() > 1 && decoded.back() == '/' && target.path.size() > 1) target.path.push_back('/');
  return target;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const auto item = query.substr(start, end - start);
    if (!item.empty()) {
      const auto equals = item.find('=');
      pairs.emplace_back(percent_decode(item.substr(0, equals), true),
                         equals == std::string_view::npos ? std::string()
                                                          : percent_decode(item.substr(equals + 1), true));
    }
    start = end + 1;
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
      variables.emplace(segments_[i].text, percent_decode(segments[i], false));
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
