#pragma once

// Request targets: normalising the path (the same bytes go into the key and to the origin),
// parsing the query, and matching rules' path templates ("/api/jobs/{id}").

#include "gateway/config.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::gateway {

struct Target {
  std::string path;   // normalised, still percent-encoded where it must be
  std::string query;  // without '?': valid RFC 3986 query text, otherwise as the client wrote it
};

// Splits and normalises an origin-form request target (parsed with Boost.URL). Raw bytes RFC
// 3986 wants escaped (UTF-8, '"', '{', ...) are escaped; unreserved characters written as %XX are
// decoded, other escapes upper-cased, "." and ".." segments resolved, repeated '/' merged; a
// stray '%' in the query is a literal '%'. Refused (nullopt, `error` says why): targets not
// starting with '/', ".." above the root, encoded '/', '\' or NUL, control characters,
// malformed escapes in the path. So "/a/..%2fb" or "/a%2F..%2Fb" never name a different
// resource for the cache than for the origin.
std::optional<Target> normalize_target(std::string_view raw, std::string* error);

// name=value pairs in order, names and values percent-decoded ('+' is a space); empty when
// `query` is not valid query text (a normalised Target's always is).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

using Variables = std::map<std::string, std::string, std::less<>>;

class PathTemplate {
public:
  // nullopt with `error` set when the template is malformed.
  static std::optional<PathTemplate> compile(std::string_view text, std::string* error);

  // The variables when `path` matches, decoded; each matches one non-empty segment.
  [[nodiscard]] std::optional<Variables> match(std::string_view path) const;
  // The first literal segment ("jobs" for /api/v2/jobs/{id}: the last literal before a variable,
  // or the last literal), used as a rule's namespace when none is given.
  [[nodiscard]] std::string default_namespace() const;
  // The first {name} in `text` that neither the path nor {user} defines.
  [[nodiscard]] std::optional<std::string> unknown_variable(std::string_view text) const;

private:
  struct Segment {
    std::string text;
    bool variable = false;
  };
  std::vector<Segment> segments_;
};

// "job:{id}" with the variables filled in; nullopt when a variable is missing (e.g. {user}
// without an identity).
std::optional<std::string> expand(std::string_view text, const Variables& variables);

// nullopt when `text` has a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// Every byte outside RFC 3986's unreserved set as %XX (query names and values).
std::string percent_encode(std::string_view text);
// Header names and other protocol tokens, compared case-insensitively by lowering them once.
std::string ascii_lower(std::string_view text);

}  // namespace strata::gateway
