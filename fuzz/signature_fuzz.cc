// Fuzz target for the signed-request header and canonical query (src/auth/request_signing.h):
// the parts of a request an unauthenticated caller controls before any secret is involved.
//
// The first line of an input is an Authorization header value, the rest a request target.
// A header either is refused with Unauthenticated "authorization: ..." or parses to values that
// SignRequest reproduces and that parse back unchanged. The canonical query is a fixed point
// and a permutation of the raw query's non-empty pieces. Anything else aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "auth/request_signing.h"

namespace {

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "signature_fuzz: %s\ninput: %.*s\n", what, static_cast<int>(input.size()),
               input.data());
  std::abort();
}

std::vector<std::string> Pieces(std::string_view query) {
  std::vector<std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    if (amp != 0) out.emplace_back(query.substr(0, amp));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string_view header = input.substr(0, nl);
  const std::string_view target = nl == std::string_view::npos ? "" : input.substr(nl + 1);

  absl::StatusOr<mercator::auth::SignatureHeader> h = mercator::auth::ParseSignatureHeader(header);
  if (!h.ok()) {
    Check(absl::IsUnauthenticated(h.status()), "refusal is not Unauthenticated", input);
    Check(std::string(h.status().message()).rfind("authorization: ", 0) == 0,
          "refusal does not name the header", input);
  } else {
    Check(h->nonce.size() >= 16 && h->nonce.size() <= 64, "nonce length", input);
    Check(h->signature_hex.size() == 64, "signature length", input);
    Check(h->timestamp_ms > 0, "timestamp", input);
    // Signing with the parsed values gives a header that parses to the same values.
    const std::string again = mercator::auth::SignRequest(h->key_id, "cs_fuzz", "GET", "/", "",
                                                          h->timestamp_ms, h->nonce);
    absl::StatusOr<mercator::auth::SignatureHeader> h2 =
        mercator::auth::ParseSignatureHeader(again);
    Check(h2.ok(), "SignRequest output does not parse", input);
    Check(h2->key_id == h->key_id && h2->timestamp_ms == h->timestamp_ms && h2->nonce == h->nonce,
          "round trip changed the header", input);
  }

  const size_t q = target.find('?');
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  const std::string canonical = mercator::auth::CanonicalQuery(query);
  Check(mercator::auth::CanonicalQuery(canonical) == canonical,
        "canonical query is not a fixed point", input);
  Check(Pieces(canonical) == Pieces(query), "canonical query lost or added pieces", input);
  (void)mercator::auth::StringToSign("GET", target, input, 1, "nonce");
  return 0;
}
