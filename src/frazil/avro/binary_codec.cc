#include "frazil/avro/binary_codec.h"

#include <cstring>

namespace frazil::avro {

void WriteLong(int64_t v, std::vector<uint8_t>* out) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out->push_back(static_cast<uint8_t>(z | 0x80));
    z >>= 7;
  }
  out->push_back(static_cast<uint8_t>(z));
}

void WriteBytes(std::string_view v, std::vector<uint8_t>* out) {
  WriteLong(static_cast<int64_t>(v.size()), out);
  out->insert(out->end(), v.begin(), v.end());
}

Status Encode(const Schema& schema, const Datum& v, std::vector<uint8_t>* out) {
  switch (schema.type) {
    case Type::kNull:
      return Status::Ok();
    case Type::kBoolean:
      out->push_back(v.b ? 1 : 0);
      return Status::Ok();
    case Type::kInt:
      if (v.i < INT32_MIN || v.i > INT32_MAX)
        return Status::InvalidArgument("avro: value does not fit an int");
      WriteLong(v.i, out);
      return Status::Ok();
    case Type::kLong:
      WriteLong(v.i, out);
      return Status::Ok();
    case Type::kFloat: {
      float f = static_cast<float>(v.d);
      uint8_t b[4];
      std::memcpy(b, &f, 4);
      out->insert(out->end(), b, b + 4);
      return Status::Ok();
    }
    case Type::kDouble: {
      uint8_t b[8];
      std::memcpy(b, &v.d, 8);
      out->insert(out->end(), b, b + 8);
      return Status::Ok();
    }
    case Type::kBytes:
    case Type::kString:
      WriteBytes(v.s, out);
      return Status::Ok();
    case Type::kFixed:
      if (v.s.size() != static_cast<size_t>(schema.size)) {
        return Status::InvalidArgument("avro: fixed " + schema.name + " needs " +
                                       std::to_string(schema.size) + " bytes, got " +
                                       std::to_string(v.s.size()));
      }
      out->insert(out->end(), v.s.begin(), v.s.end());
      return Status::Ok();
    case Type::kEnum:
      if (v.i < 0 || static_cast<size_t>(v.i) >= schema.symbols.size())
        return Status::InvalidArgument("avro: enum index out of range");
      WriteLong(v.i, out);
      return Status::Ok();
    case Type::kRecord:
      if (v.items.size() != schema.fields.size()) {
        return Status::InvalidArgument("avro: record " + schema.name + " has " +
                                       std::to_string(schema.fields.size()) + " fields, value has " +
                                       std::to_string(v.items.size()));
      }
      for (size_t k = 0; k < schema.fields.size(); ++k) {
        Status st = Encode(*schema.fields[k].type, v.items[k], out);
        if (!st.ok()) return st.WithContext(schema.name + "." + schema.fields[k].name);
      }
      return Status::Ok();
    case Type::kArray:
      if (!v.items.empty()) {
        WriteLong(static_cast<int64_t>(v.items.size()), out);
        for (const auto& e : v.items) FRAZIL_RETURN_IF_ERROR(Encode(*schema.items, e, out));
      }
      out->push_back(0);
      return Status::Ok();
    case Type::kMap:
      if (v.keys.size() != v.items.size())
        return Status::InvalidArgument("avro: map with unequal keys and values");
      if (!v.keys.empty()) {
        WriteLong(static_cast<int64_t>(v.keys.size()), out);
        for (size_t k = 0; k < v.keys.size(); ++k) {
          WriteBytes(v.keys[k], out);
          FRAZIL_RETURN_IF_ERROR(Encode(*schema.values, v.items[k], out));
        }
      }
      out->push_back(0);
      return Status::Ok();
    case Type::kUnion:
      if (v.branch < 0 || static_cast<size_t>(v.branch) >= schema.branches.size() || v.items.size() != 1) {
        return Status::InvalidArgument("avro: union value without a valid branch");
      }
      WriteLong(v.branch, out);
      return Encode(*schema.branches[static_cast<size_t>(v.branch)], v.items[0], out);
  }
  return Status::Internal("avro: unknown schema type");
}

Status Decoder::Take(size_t n, const uint8_t** p) {
  if (n > data_.size() - pos_) {
    return Status::Corruption("avro: " + std::to_string(n) + " bytes wanted at byte " + std::to_string(pos_) +
                              ", " + std::to_string(data_.size() - pos_) + " left");
  }
  *p = data_.data() + pos_;
  pos_ += n;
  return Status::Ok();
}

Status Decoder::ReadLong(int64_t* v) {
  uint64_t z = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    const uint8_t* b;
    FRAZIL_RETURN_IF_ERROR(Take(1, &b));
    if (shift == 63 && (*b & 0x7e)) break;
    z |= static_cast<uint64_t>(*b & 0x7f) << shift;
    if ((*b & 0x80) == 0) {
      *v = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
      return Status::Ok();
    }
  }
  return Status::Corruption("avro: varint too long at byte " + std::to_string(pos_));
}

Status Decoder::ReadBytes(std::string* v) {
  int64_t n;
  FRAZIL_RETURN_IF_ERROR(ReadLong(&n));
  if (n < 0) return Status::Corruption("avro: negative length at byte " + std::to_string(pos_));
  const uint8_t* p;
  FRAZIL_RETURN_IF_ERROR(Take(static_cast<size_t>(n), &p));
  v->assign(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  return Status::Ok();
}

Status Decoder::DecodeDepth(const Schema& schema, Datum* out, int depth) {
  if (depth > 64) return Status::Corruption("avro: value nested too deeply");
  const uint8_t* p;
  switch (schema.type) {
    case Type::kNull:
      return Status::Ok();
    case Type::kBoolean:
      FRAZIL_RETURN_IF_ERROR(Take(1, &p));
      if (*p > 1) return Status::Corruption("avro: boolean byte " + std::to_string(*p));
      out->b = *p == 1;
      return Status::Ok();
    case Type::kInt:
      FRAZIL_RETURN_IF_ERROR(ReadLong(&out->i));
      if (out->i < INT32_MIN || out->i > INT32_MAX) return Status::Corruption("avro: int out of range");
      return Status::Ok();
    case Type::kLong:
      return ReadLong(&out->i);
    case Type::kFloat: {
      FRAZIL_RETURN_IF_ERROR(Take(4, &p));
      float f;
      std::memcpy(&f, p, 4);
      out->d = f;
      return Status::Ok();
    }
    case Type::kDouble:
      FRAZIL_RETURN_IF_ERROR(Take(8, &p));
      std::memcpy(&out->d, p, 8);
      return Status::Ok();
    case Type::kBytes:
    case Type::kString:
      return ReadBytes(&out->s);
    case Type::kFixed:
      FRAZIL_RETURN_IF_ERROR(Take(static_cast<size_t>(schema.size), &p));
      out->s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(schema.size));
      return Status::Ok();
    case Type::kEnum:
      FRAZIL_RETURN_IF_ERROR(ReadLong(&out->i));
      if (out->i < 0 || static_cast<size_t>(out->i) >= schema.symbols.size())
        return Status::Corruption("avro: enum index out of range");
      return Status::Ok();
    case Type::kRecord:
      out->items.resize(schema.fields.size());
      for (size_t k = 0; k < schema.fields.size(); ++k) {
        FRAZIL_RETURN_IF_ERROR(DecodeDepth(*schema.fields[k].type, &out->items[k], depth + 1));
      }
      return Status::Ok();
    case Type::kArray:
    case Type::kMap:
      for (;;) {
        int64_t count;
        FRAZIL_RETURN_IF_ERROR(ReadLong(&count));
        if (count == 0) return Status::Ok();
        if (count < 0) {  // a block with its byte size, which we do not need
          if (count == INT64_MIN) return Status::Corruption("avro: bad block count");
          count = -count;
          int64_t bytes;
          FRAZIL_RETURN_IF_ERROR(ReadLong(&bytes));
        }
        // Each element takes at least one byte unless it is null-like;
        // bound the count so that a lying header cannot exhaust memory.
        if (static_cast<uint64_t>(count) > data_.size() - pos_ + 1024) {
          return Status::Corruption("avro: block of " + std::to_string(count) + " elements in " +
                                    std::to_string(data_.size() - pos_) + " bytes");
        }
        for (int64_t k = 0; k < count; ++k) {
          if (schema.type == Type::kArray) {
            out->items.emplace_back();
            FRAZIL_RETURN_IF_ERROR(DecodeDepth(*schema.items, &out->items.back(), depth + 1));
          } else {
            out->keys.emplace_back();
            FRAZIL_RETURN_IF_ERROR(ReadBytes(&out->keys.back()));
            out->items.emplace_back();
            FRAZIL_RETURN_IF_ERROR(DecodeDepth(*schema.values, &out->items.back(), depth + 1));
          }
        }
      }
    case Type::kUnion: {
      int64_t b;
      FRAZIL_RETURN_IF_ERROR(ReadLong(&b));
      if (b < 0 || static_cast<size_t>(b) >= schema.branches.size()) {
        return Status::Corruption("avro: union branch " + std::to_string(b) + " of " +
                                  std::to_string(schema.branches.size()));
      }
      out->branch = static_cast<int32_t>(b);
      out->items.resize(1);
      return DecodeDepth(*schema.branches[static_cast<size_t>(b)], &out->items[0], depth + 1);
    }
  }
  return Status::Internal("avro: unknown schema type");
}

}  // namespace frazil::avro
