#include "frazil/net/aws_credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace frazil::net {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Missing file = no values; unreadable or malformed = error.
Result<IniFile> ReadIni(const std::string& path) {
  std::ifstream in(path);
  if (!in) return IniFile{};
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError("reading " + path);
  return ParseIni(ss.str(), path);
}

std::optional<std::string> NonEmpty(const Environment& env, const std::string& name) {
  auto v = env.get(name);
  if (v && !v->empty()) return v;
  return std::nullopt;
}

std::string Lookup(const IniFile& ini, const std::string& section, const std::string& key) {
  auto s = ini.find(section);
  if (s == ini.end()) return "";
  auto k = s->second.find(key);
  return k == s->second.end() ? "" : k->second;
}

}  // namespace

Result<IniFile> ParseIni(std::string_view text, std::string_view name_for_errors) {
  IniFile out;
  std::string section;
  bool have_section = false;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto where = [&] { return std::string(name_for_errors) + ":" + std::to_string(line_no); };
    if (line.front() == '[') {
      if (line.back() != ']') return Status::InvalidArgument(where() + ": section header without ']'");
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      if (section.empty()) return Status::InvalidArgument(where() + ": empty section name");
      have_section = true;
      out[section];
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      // Indented sub-keys (e.g. "s3 =\n  max_concurrent_requests = 4")
      // belong to the key above; we need none of them.
      continue;
    }
    if (!have_section) return Status::InvalidArgument(where() + ": key outside of any [section]");
    std::string key(Trim(line.substr(0, eq)));
    if (key.empty()) return Status::InvalidArgument(where() + ": empty key");
    out[section][key] = std::string(Trim(line.substr(eq + 1)));
  }
  return out;
}

Environment Environment::Process() {
  return Environment{[](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  }};
}

Result<AwsSettings> ResolveAwsSettings(AwsSettings c, const Environment& env, std::string_view section) {
  const std::string sec_name(section);
  std::string profile = c.profile;
  if (profile.empty()) profile = NonEmpty(env, "AWS_PROFILE").value_or("default");
  c.profile = profile;
  std::string home = NonEmpty(env, "HOME").value_or("");
  std::string cred_path = NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE").value_or(home + "/.aws/credentials");
  std::string config_path = NonEmpty(env, "AWS_CONFIG_FILE").value_or(home + "/.aws/config");

  if (c.access_key_id.empty() != c.secret_access_key.empty())
    return Status::InvalidArgument(sec_name + ": access_key_id and secret_access_key must be given together");
  if (c.access_key_id.empty()) {
    auto id = NonEmpty(env, "AWS_ACCESS_KEY_ID");
    auto secret = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
    if (id.has_value() != secret.has_value())
      return Status::InvalidArgument(sec_name +
                                     ": AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    if (id) {
      c.access_key_id = *id;
      c.secret_access_key = *secret;
      c.session_token = NonEmpty(env, "AWS_SESSION_TOKEN").value_or("");
    } else {
      FRAZIL_ASSIGN_OR_RETURN(IniFile creds, ReadIni(cred_path));
      c.access_key_id = Lookup(creds, profile, "aws_access_key_id");
      c.secret_access_key = Lookup(creds, profile, "aws_secret_access_key");
      c.session_token = Lookup(creds, profile, "aws_session_token");
      if (c.access_key_id.empty() || c.secret_access_key.empty()) {
        // The config file may hold keys too (section "profile NAME").
        FRAZIL_ASSIGN_OR_RETURN(IniFile conf, ReadIni(config_path));
        std::string sec = profile == "default" ? "default" : "profile " + profile;
        c.access_key_id = Lookup(conf, sec, "aws_access_key_id");
        c.secret_access_key = Lookup(conf, sec, "aws_secret_access_key");
        c.session_token = Lookup(conf, sec, "aws_session_token");
      }
      if (c.access_key_id.empty() || c.secret_access_key.empty())
        return Status::InvalidArgument(sec_name + ": no credentials: set " + sec_name +
                                       ".access_key_id/secret_access_key, "
                                       "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                                       "or aws_access_key_id/aws_secret_access_key of profile '" +
                                       profile + "' in " + cred_path + " or " + config_path);
    }
  }
  if (c.region.empty()) {
    if (auto r = NonEmpty(env, "AWS_REGION")) {
      c.region = *r;
    } else if (auto r2 = NonEmpty(env, "AWS_DEFAULT_REGION")) {
      c.region = *r2;
    } else {
      FRAZIL_ASSIGN_OR_RETURN(IniFile conf, ReadIni(config_path));
      c.region = Lookup(conf, profile == "default" ? "default" : "profile " + profile, "region");
      if (c.region.empty()) {
        c.region = "us-east-1";
        c.region_defaulted = true;
      }
    }
  }
  return c;
}

}  // namespace frazil::net
