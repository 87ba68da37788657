// A growable byte buffer for page data. Unlike std::vector<uint8_t> it grows
// without zero-filling (values and compressed output are written over the
// new bytes right away) and shrinks in place: a page is compressed into a
// buffer of the worst-case size, which is then cut to the compressed size
// without copying it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <utility>

namespace frazil::parquet {

class PageBuffer {
 public:
  PageBuffer() = default;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  PageBuffer(PageBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  PageBuffer& operator=(PageBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }
  ~PageBuffer() { std::free(data_); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }

  void Reserve(size_t n) {
    if (n > capacity_) Reallocate(n);
  }
  // Grows (new bytes uninitialized) or truncates to `n` bytes.
  void Resize(size_t n) {
    if (n > capacity_) Reallocate(std::max(n, 2 * capacity_));
    size_ = n;
  }
  // Appends `n` uninitialized bytes and returns where they start.
  uint8_t* Extend(size_t n) {
    const size_t at = size_;
    Resize(size_ + n);
    return data_ + at;
  }
  void Append(const void* p, size_t n) {
    if (n > 0) std::memcpy(Extend(n), p, n);
  }
  // Gives back the unused capacity; realloc shrinks a block in place.
  void ShrinkToFit() {
    if (size_ < capacity_ && size_ > 0) Reallocate(size_);
  }

 private:
  void Reallocate(size_t n) {
    void* p = std::realloc(data_, n);
    if (p == nullptr) throw std::bad_alloc();  // as std::vector does
    data_ = static_cast<uint8_t*>(p);
    capacity_ = n;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace frazil::parquet
