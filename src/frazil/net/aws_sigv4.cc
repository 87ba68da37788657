#include "frazil/net/aws_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

namespace frazil::net::sigv4 {

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string HexSha256(std::span<const uint8_t> data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(data.data(), data.size(), digest);
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string HexSha256(std::string_view data) {
  return HexSha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Header values are trimmed and inner runs of spaces collapse to one.
std::string TrimCollapse(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string CanonicalRequest(const CanonicalInput& in, std::string* signed_headers) {
  // Sorted by lower-case name; repeated names join their values with ','.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : in.headers) headers.emplace_back(Lower(name), TrimCollapse(value));
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canon_headers, names;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canon_headers.pop_back();  // the '\n'
      canon_headers += "," + headers[i].second + "\n";
      continue;
    }
    canon_headers += headers[i].first + ":" + headers[i].second + "\n";
    if (!names.empty()) names.push_back(';');
    names += headers[i].first;
  }
  if (signed_headers) *signed_headers = names;
  std::string path = in.path.empty() ? "/" : UriEncode(in.path, true);
  return in.method + "\n" + path + "\n" + CanonicalQueryString(in.query) + "\n" + canon_headers + "\n" +
         names + "\n" + in.payload_hash;
}

std::string CredentialScope(std::string_view amz_date, std::string_view region, std::string_view service) {
  return std::string(amz_date.substr(0, 8)) + "/" + std::string(region) + "/" + std::string(service) +
         "/aws4_request";
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" +
         HexSha256(canonical_request);
}

std::string SigningKey(std::string_view secret_access_key, std::string_view date, std::string_view region,
                       std::string_view service) {
  std::string k = HmacSha256("AWS4" + std::string(secret_access_key), date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  return HmacSha256(k, "aws4_request");
}

std::string AuthorizationHeader(const CanonicalInput& in, const Credentials& creds, std::string_view amz_date,
                                std::string_view region, std::string_view service) {
  std::string signed_headers;
  std::string canonical = CanonicalRequest(in, &signed_headers);
  std::string scope = CredentialScope(amz_date, region, service);
  std::string key = SigningKey(creds.secret_access_key, amz_date.substr(0, 8), region, service);
  std::string signature = ToHex(HmacSha256(key, StringToSign(amz_date, scope, canonical)));
  return "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
         ",SignedHeaders=" + signed_headers + ",Signature=" + signature;
}

std::string AmzDate(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[20];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace frazil::net::sigv4
