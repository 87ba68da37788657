#include "frazil/parquet/thrift_compact.h"

#include <cstring>

namespace frazil::parquet::thrift {

namespace {
constexpr int kMaxDepth = 32;
constexpr uint32_t kMaxStringBytes = 64u << 20;
}  // namespace

// ---------------------------------------------------------------------------
// Writer

void Writer::BeginStruct() { last_ids_.push_back(0); }

void Writer::EndStruct() {
  out_->push_back(static_cast<uint8_t>(Type::kStop));
  last_ids_.pop_back();
}

void Writer::Varint(uint64_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<uint8_t>(v));
}

void Writer::FieldHeader(int16_t id, Type t) {
  int16_t& last = last_ids_.back();
  int delta = id - last;
  if (delta > 0 && delta <= 15) {
    out_->push_back(static_cast<uint8_t>((delta << 4) | static_cast<uint8_t>(t)));
  } else {
    out_->push_back(static_cast<uint8_t>(t));
    Varint(ZigZag(id));
  }
  last = id;
}

void Writer::FieldBool(int16_t id, bool v) { FieldHeader(id, v ? Type::kBoolTrue : Type::kBoolFalse); }

void Writer::FieldByte(int16_t id, int8_t v) {
  FieldHeader(id, Type::kByte);
  out_->push_back(static_cast<uint8_t>(v));
}

void Writer::FieldI16(int16_t id, int16_t v) {
  FieldHeader(id, Type::kI16);
  Varint(ZigZag(v));
}

void Writer::FieldI32(int16_t id, int32_t v) {
  FieldHeader(id, Type::kI32);
  Varint(ZigZag(v));
}

void Writer::FieldI64(int16_t id, int64_t v) {
  FieldHeader(id, Type::kI64);
  Varint(ZigZag(v));
}

void Writer::FieldBinary(int16_t id, std::span<const uint8_t> v) {
  FieldHeader(id, Type::kBinary);
  Varint(v.size());
  out_->insert(out_->end(), v.begin(), v.end());
}

void Writer::FieldString(int16_t id, const std::string& v) {
  FieldBinary(id, std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
}

void Writer::FieldStructBegin(int16_t id) {
  FieldHeader(id, Type::kStruct);
  BeginStruct();
}

void Writer::FieldListBegin(int16_t id, Type elem, size_t size) {
  FieldHeader(id, Type::kList);
  if (size < 15) {
    out_->push_back(static_cast<uint8_t>((size << 4) | static_cast<uint8_t>(elem)));
  } else {
    out_->push_back(static_cast<uint8_t>(0xf0 | static_cast<uint8_t>(elem)));
    Varint(size);
  }
}

void Writer::ElemString(const std::string& v) {
  Varint(v.size());
  out_->insert(out_->end(), v.begin(), v.end());
}

// ---------------------------------------------------------------------------
// Reader

Status Reader::Byte(uint8_t* b) {
  if (pos_ >= data_.size())
    return Status::Corruption("thrift: unexpected end of data at byte " + std::to_string(pos_));
  *b = data_[pos_++];
  return Status::Ok();
}

Status Reader::Varint(uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b;
    FRAZIL_RETURN_IF_ERROR(Byte(&b));
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return Status::Ok();
    }
  }
  return Status::Corruption("thrift: varint longer than 10 bytes at byte " + std::to_string(pos_));
}

Status Reader::BeginStruct() {
  if (last_ids_.size() >= kMaxDepth) return Status::Corruption("thrift: structs nested too deeply");
  last_ids_.push_back(0);
  return Status::Ok();
}

Status Reader::ReadFieldHeader(FieldHeader* h) {
  if (last_ids_.empty()) return Status::Internal("thrift: field read outside a struct");
  uint8_t b;
  FRAZIL_RETURN_IF_ERROR(Byte(&b));
  h->type = static_cast<Type>(b & 0x0f);
  if (h->type == Type::kStop) {
    last_ids_.pop_back();
    return Status::Ok();
  }
  if (static_cast<uint8_t>(h->type) > static_cast<uint8_t>(Type::kStruct)) {
    return Status::Corruption("thrift: unknown field type " + std::to_string(b & 0x0f) + " at byte " +
                              std::to_string(pos_ - 1));
  }
  int delta = b >> 4;
  if (delta != 0) {
    h->id = static_cast<int16_t>(last_ids_.back() + delta);
  } else {
    uint64_t z;
    FRAZIL_RETURN_IF_ERROR(Varint(&z));
    h->id = static_cast<int16_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  last_ids_.back() = h->id;
  return Status::Ok();
}

Status Reader::ReadBool(const FieldHeader& h, bool* v) {
  if (h.type == Type::kBoolTrue) {
    *v = true;
  } else if (h.type == Type::kBoolFalse) {
    *v = false;
  } else {
    return Status::Corruption("thrift: expected a bool field, got type " +
                              std::to_string(static_cast<int>(h.type)));
  }
  return Status::Ok();
}

Status Reader::ReadByte(int8_t* v) {
  uint8_t b;
  FRAZIL_RETURN_IF_ERROR(Byte(&b));
  *v = static_cast<int8_t>(b);
  return Status::Ok();
}

Status Reader::ReadI64(int64_t* v) {
  uint64_t z;
  FRAZIL_RETURN_IF_ERROR(Varint(&z));
  *v = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  return Status::Ok();
}

Status Reader::ReadI32(int32_t* v) {
  int64_t w;
  FRAZIL_RETURN_IF_ERROR(ReadI64(&w));
  if (w < INT32_MIN || w > INT32_MAX) return Status::Corruption("thrift: i32 out of range");
  *v = static_cast<int32_t>(w);
  return Status::Ok();
}

Status Reader::ReadDouble(double* v) {
  if (data_.size() - pos_ < 8) return Status::Corruption("thrift: truncated double");
  std::memcpy(v, data_.data() + pos_, 8);
  pos_ += 8;
  return Status::Ok();
}

Status Reader::ReadBinary(std::string* v) {
  uint64_t n;
  FRAZIL_RETURN_IF_ERROR(Varint(&n));
  if (n > kMaxStringBytes || n > data_.size() - pos_) {
    return Status::Corruption("thrift: binary of " + std::to_string(n) + " bytes runs past the end at byte " +
                              std::to_string(pos_));
  }
  v->assign(reinterpret_cast<const char*>(data_.data() + pos_), n);
  pos_ += n;
  return Status::Ok();
}

Status Reader::ReadListHeader(Type* elem, uint32_t* size) {
  uint8_t b;
  FRAZIL_RETURN_IF_ERROR(Byte(&b));
  *elem = static_cast<Type>(b & 0x0f);
  uint64_t n = b >> 4;
  if (n == 15) FRAZIL_RETURN_IF_ERROR(Varint(&n));
  // Every element takes at least one byte: a cheap bound against huge counts.
  if (n > data_.size() - pos_)
    return Status::Corruption("thrift: list of " + std::to_string(n) + " elements runs past the end");
  *size = static_cast<uint32_t>(n);
  return Status::Ok();
}

Status Reader::Skip(Type t) { return SkipDepth(t, 0); }

Status Reader::SkipDepth(Type t, int depth) {
  if (depth > kMaxDepth) return Status::Corruption("thrift: values nested too deeply");
  switch (t) {
    case Type::kBoolTrue:
    case Type::kBoolFalse:
      return Status::Ok();
    case Type::kByte: {
      uint8_t b;
      return Byte(&b);
    }
    case Type::kI16:
    case Type::kI32:
    case Type::kI64: {
      uint64_t v;
      return Varint(&v);
    }
    case Type::kDouble: {
      double d;
      return ReadDouble(&d);
    }
    case Type::kBinary: {
      std::string s;
      return ReadBinary(&s);
    }
    case Type::kList:
    case Type::kSet: {
      Type elem;
      uint32_t n;
      FRAZIL_RETURN_IF_ERROR(ReadListHeader(&elem, &n));
      for (uint32_t i = 0; i < n; ++i) {
        if (elem == Type::kBoolTrue || elem == Type::kBoolFalse) {
          uint8_t b;
          FRAZIL_RETURN_IF_ERROR(Byte(&b));  // bools in collections take a byte
        } else {
          FRAZIL_RETURN_IF_ERROR(SkipDepth(elem, depth + 1));
        }
      }
      return Status::Ok();
    }
    case Type::kMap: {
      uint64_t n;
      FRAZIL_RETURN_IF_ERROR(Varint(&n));
      if (n == 0) return Status::Ok();
      uint8_t kv;
      FRAZIL_RETURN_IF_ERROR(Byte(&kv));
      if (n > data_.size() - pos_) return Status::Corruption("thrift: map runs past the end");
      for (uint64_t i = 0; i < n; ++i) {
        FRAZIL_RETURN_IF_ERROR(SkipDepth(static_cast<Type>(kv >> 4), depth + 1));
        FRAZIL_RETURN_IF_ERROR(SkipDepth(static_cast<Type>(kv & 0x0f), depth + 1));
      }
      return Status::Ok();
    }
    case Type::kStruct: {
      FRAZIL_RETURN_IF_ERROR(BeginStruct());
      for (;;) {
        FieldHeader h;
        FRAZIL_RETURN_IF_ERROR(ReadFieldHeader(&h));
        if (h.type == Type::kStop) return Status::Ok();
        FRAZIL_RETURN_IF_ERROR(SkipDepth(h.type, depth + 1));
      }
    }
    case Type::kStop:
      break;
  }
  return Status::Corruption("thrift: cannot skip a value of type " + std::to_string(static_cast<int>(t)));
}

}  // namespace frazil::parquet::thrift
