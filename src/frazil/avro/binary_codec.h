// Avro binary encoding of a Datum under a schema, and its decoding. The
// decoder bounds every length and count by the bytes that remain.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "frazil/avro/datum.h"
#include "frazil/avro/schema.h"
#include "frazil/common/status.h"

namespace frazil::avro {

Status Encode(const Schema& schema, const Datum& value, std::vector<uint8_t>* out);

class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> data) : data_(data) {}
  Status Decode(const Schema& schema, Datum* out) { return DecodeDepth(schema, out, 0); }
  bool AtEnd() const { return pos_ == data_.size(); }
  size_t position() const { return pos_; }

  Status ReadLong(int64_t* v);
  Status ReadBytes(std::string* v);

 private:
  Status DecodeDepth(const Schema& schema, Datum* out, int depth);
  Status Take(size_t n, const uint8_t** p);

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

void WriteLong(int64_t v, std::vector<uint8_t>* out);
void WriteBytes(std::string_view v, std::vector<uint8_t>* out);

}  // namespace frazil::avro
