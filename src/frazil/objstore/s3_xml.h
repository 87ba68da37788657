// The little XML the S3 API needs: elements by tag name in S3's flat
// response documents, and escaping for the request bodies we build. Not a
// general XML parser (no attributes, comments or CDATA are interpreted).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace frazil::objstore::xml {

// Raw inner text of each <tag>...</tag> (also <tag attr="...">) in `doc`,
// in order; an element of the same name nested inside another is not seen.
std::vector<std::string_view> Elements(std::string_view doc, std::string_view tag);
// The unescaped text of the first <tag>, or "" when there is none.
std::string FirstText(std::string_view doc, std::string_view tag);

std::string Escape(std::string_view text);
std::string Unescape(std::string_view text);

}  // namespace frazil::objstore::xml
