// Stored records come from WAL files on disk: any bytes must decode to a
// message or a Corruption status, and what decodes must re-encode to a
// record that decodes to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "frazil/storage/stored_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = frazil::storage::DecodeStoredMessage({data, size});
  if (!m.ok()) return 0;
  auto again = frazil::storage::DecodeStoredMessage(frazil::storage::EncodeStoredMessage(*m));
  if (!again.ok() || again->payload != m->payload || again->attributes != m->attributes ||
      again->routing_key != m->routing_key || again->producer_id != m->producer_id)
    std::abort();
  return 0;
}
