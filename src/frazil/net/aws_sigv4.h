// AWS Signature Version 4 for S3 requests signed in the Authorization
// header (single-chunk payloads), written from the AWS documentation
// "Signature Calculations for the Authorization Header". Pure functions:
// no clock, no network, so the published examples check every step.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frazil::net::sigv4 {

// The payload hash for requests that do not sign their body.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only; sent as x-amz-security-token
};

// The parts of a request the signature covers.
struct CanonicalInput {
  std::string method;  // GET, PUT, ...
  std::string path;    // decoded, starting with '/'; percent-encoded here
  // Decoded query parameters; a parameter without value has "".
  std::vector<std::pair<std::string, std::string>> query;
  // Every header to sign (host included); names in any case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  // hex SHA-256 of the body, or kUnsignedPayload
};

std::string HexSha256(std::span<const uint8_t> data);
std::string HexSha256(std::string_view data);
// Raw (binary) HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);

// S3's URI encoding: everything but A-Z a-z 0-9 - _ . ~ becomes %XX
// (upper-case hex); '/' too unless keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash);

// "param=value&..." sorted by encoded name then value, each encoded; the
// same text serves as the URL's query string.
std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query);

// The canonical request; `signed_headers` receives "host;x-amz-date;...".
std::string CanonicalRequest(const CanonicalInput& in, std::string* signed_headers);

// "20130524/us-east-1/s3/aws4_request" for amz_date 20130524T000000Z.
std::string CredentialScope(std::string_view amz_date, std::string_view region, std::string_view service);

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// The binary signing key: HMAC chain over date, region, service, "aws4_request".
std::string SigningKey(std::string_view secret_access_key, std::string_view date, std::string_view region,
                       std::string_view service);

// The value of the Authorization header for `in`, whose headers must
// already hold x-amz-date (= amz_date), host and x-amz-content-sha256.
std::string AuthorizationHeader(const CanonicalInput& in, const Credentials& creds, std::string_view amz_date,
                                std::string_view region, std::string_view service);

// "YYYYMMDDTHHMMSSZ" in UTC.
std::string AmzDate(std::chrono::system_clock::time_point t);

std::string ToHex(std::string_view bytes);

}  // namespace frazil::net::sigv4
