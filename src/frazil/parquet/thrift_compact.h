// Thrift compact protocol, the encoding of Parquet's footer and page headers.
// Only what Parquet's IDL uses; the reader bounds-checks every read and
// limits nesting, since footers come from untrusted files.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::parquet::thrift {

enum class Type : uint8_t {
  kStop = 0,
  kBoolTrue = 1,
  kBoolFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}

  void BeginStruct();  // pushes a field-id context
  void EndStruct();    // writes STOP and pops

  void FieldBool(int16_t id, bool v);
  void FieldByte(int16_t id, int8_t v);
  void FieldI16(int16_t id, int16_t v);
  void FieldI32(int16_t id, int32_t v);
  void FieldI64(int16_t id, int64_t v);
  void FieldBinary(int16_t id, std::span<const uint8_t> v);
  void FieldString(int16_t id, const std::string& v);
  void FieldStructBegin(int16_t id);  // then fields, then EndStruct()
  void FieldListBegin(int16_t id, Type elem, size_t size);

  // List elements.
  void ElemI32(int32_t v) { Varint(ZigZag(v)); }
  void ElemI64(int64_t v) { Varint(ZigZag(v)); }
  void ElemString(const std::string& v);
  void ElemStructBegin() { BeginStruct(); }

 private:
  void FieldHeader(int16_t id, Type t);
  void Varint(uint64_t v);
  static uint64_t ZigZag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }

  std::vector<uint8_t>* out_;
  std::vector<int16_t> last_ids_{0};
};

struct FieldHeader {
  Type type = Type::kStop;
  int16_t id = 0;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  Status BeginStruct();
  // Next field header; type kStop ends the struct (and pops its context).
  Status ReadFieldHeader(FieldHeader* h);
  Status ReadBool(const FieldHeader& h, bool* v);
  Status ReadByte(int8_t* v);
  Status ReadI32(int32_t* v);
  Status ReadI64(int64_t* v);
  Status ReadDouble(double* v);
  Status ReadBinary(std::string* v);
  Status ReadListHeader(Type* elem, uint32_t* size);
  // Skips a value of the given type (unknown fields, for compatibility).
  Status Skip(Type t);

  size_t position() const { return pos_; }

 private:
  Status Varint(uint64_t* v);
  Status Byte(uint8_t* b);
  Status SkipDepth(Type t, int depth);

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  std::vector<int16_t> last_ids_;
};

}  // namespace frazil::parquet::thrift
