#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/api_client_repository.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/internal/lookup_key.h"
#include "store/sqlite/sqlite_vault.h"

namespace mercator {
namespace {

using sqlite_internal::BindLookupKey;
using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

// The seal contexts and hashed columns, as store/sqlite/sqlite_store.cc writes them:
// "<column>/<uid>" for sealed values, "<column>" for lookup hashes.
constexpr std::array<std::string_view, 3> kColumns = {"customers.name", "customers.phone",
                                                      "customers.id_number"};
constexpr char kHasPii[] =
    "(name_sealed IS NOT NULL OR phone_sealed IS NOT NULL OR id_number_sealed IS NOT NULL)";

void BindOptionalBlob(Statement& stmt, int index, const std::string& value, bool present) {
  if (present) {
    stmt.BindBlob(index, value);
  } else {
    stmt.BindNull(index);
  }
}

struct Row {
  int64_t uid = 0;
  std::array<std::string, 3> sealed;
  std::array<bool, 3> present{};
};

absl::StatusOr<int64_t> CountRows(Connection& conn) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare(Cat("SELECT count(*) FROM customers WHERE ", kHasPii),
                                "vault rotation: counting customers"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : 0;
}

// Re-seals the client secrets not under the current key; returns how many.
absl::StatusOr<int64_t> ResealClientSecrets(Connection& conn, const PiiCipher& cipher) {
  ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
  std::vector<std::pair<int64_t, std::string>> resealed;
  {
    ASSIGN_OR_RETURN(Statement scan,
                     conn.Prepare("SELECT id, sealed_secret FROM api_client_secrets",
                                  "vault rotation: reading client secrets"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, scan.Step());
      if (!row) break;
      const std::string_view sealed = scan.ColumnBlob(1);
      if (cipher.SealedUnderCurrentKey(sealed)) continue;
      absl::StatusOr<std::string> secret = cipher.Open(sealed, kApiClientSecretContext);
      if (!secret.ok()) {
        return absl::Status(secret.status().code(), Cat("api client secret ", scan.ColumnInt64(0),
                                                        ": ", secret.status().message()));
      }
      resealed.emplace_back(scan.ColumnInt64(0), cipher.Seal(*secret, kApiClientSecretContext));
    }
  }
  for (const auto& [id, sealed] : resealed) {
    ASSIGN_OR_RETURN(Statement update,
                     conn.Prepare("UPDATE api_client_secrets SET sealed_secret = ? WHERE id = ?",
                                  "vault rotation: writing a client secret"));
    update.BindBlob(1, sealed).BindInt64(2, id);
    RETURN_IF_ERROR(update.Run());
  }
  RETURN_IF_ERROR(txn.Commit());
  return static_cast<int64_t>(resealed.size());
}

}  // namespace

absl::StatusOr<ResealProgress> ResealUnderCurrentKey(
    Store& store, const PiiCipher& cipher, int batch,
    const std::function<void(const ResealProgress&)>& progress) {
  if (batch <= 0) return absl::InvalidArgumentError("batch: must be positive");
  Db& db = sqlite_internal::DbOf(store);
  ResealProgress p;
  {
    Db::ReaderLease reader(db);
    ASSIGN_OR_RETURN(p.customers_total, CountRows(reader.conn()));
  }
  {
    Db::WriterLease writer(db);
    ASSIGN_OR_RETURN(p.client_secrets_resealed, ResealClientSecrets(writer.conn(), cipher));
  }
  std::string context;
  int64_t after_uid = -1;
  for (bool done = false; !done;) {
    // One write transaction per batch: the rows read are the rows written, with no other
    // writer in between.
    Db::WriterLease writer(db);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    std::vector<Row> rows;
    {
      ASSIGN_OR_RETURN(
          Statement scan,
          conn.Prepare(Cat("SELECT uid, name_sealed, phone_sealed, id_number_sealed FROM customers"
                           " WHERE uid > ? AND ",
                           kHasPii, " ORDER BY uid LIMIT ?"),
                       "vault rotation: reading customers"));
      scan.BindInt64(1, after_uid).BindInt64(2, batch);
      int read = 0;
      for (;;) {
        ASSIGN_OR_RETURN(bool more, scan.Step());
        if (!more) break;
        Row r;
        r.uid = scan.ColumnInt64(0);
        bool current = true;
        for (int c = 0; c < 3; ++c) {
          r.present[c] = !scan.ColumnIsNull(c + 1);
          if (r.present[c]) {
            r.sealed[c] = std::string(scan.ColumnBlob(c + 1));
            current = current && cipher.SealedUnderCurrentKey(r.sealed[c]);
          }
        }
        ++read;
        ++p.customers_scanned;
        after_uid = r.uid;
        if (!current) rows.push_back(std::move(r));
      }
      done = read < batch;
    }
    for (Row& r : rows) {
      std::array<std::string, 2> hashes;  // phone, id number
      for (int c = 0; c < 3; ++c) {
        if (!r.present[c]) continue;
        context.assign(kColumns[c]);
        CatAppend(&context, "/", r.uid);
        absl::StatusOr<std::string> plain = cipher.Open(r.sealed[c], context);
        if (!plain.ok()) {
          return absl::Status(plain.status().code(), Cat("customer uid ", r.uid, ": ", kColumns[c],
                                                         ": ", plain.status().message()));
        }
        r.sealed[c] = cipher.Seal(*plain, context);
        if (c > 0) hashes[c - 1] = cipher.LookupHash(*plain, kColumns[c]);
        std::fill(plain->begin(), plain->end(), '\0');
      }
      ASSIGN_OR_RETURN(Statement update,
                       conn.Prepare("UPDATE customers SET name_sealed = ?, phone_sealed = ?,"
                                    " id_number_sealed = ?, phone_hash = ?, id_number_hash = ?,"
                                    " phone_key = ?, id_number_key = ? WHERE uid = ?",
                                    "vault rotation: writing a customer"));
      for (int c = 0; c < 3; ++c) BindOptionalBlob(update, c + 1, r.sealed[c], r.present[c]);
      BindOptionalBlob(update, 4, hashes[0], r.present[1]);
      BindOptionalBlob(update, 5, hashes[1], r.present[2]);
      // The new key's hash may fall in another bucket.
      BindLookupKey(update, 6, r.present[1] ? std::string_view(hashes[0]) : std::string_view(),
                    r.uid);
      BindLookupKey(update, 7, r.present[2] ? std::string_view(hashes[1]) : std::string_view(),
                    r.uid);
      update.BindInt64(8, r.uid);
      RETURN_IF_ERROR(update.Run());
      ++p.customers_resealed;
    }
    RETURN_IF_ERROR(txn.Commit());
    if (progress) progress(p);
  }
  return p;
}

absl::StatusOr<int64_t> CountSealedUnderOtherKeys(Store& store, const PiiCipher& cipher) {
  Db& db = sqlite_internal::DbOf(store);
  Db::ReaderLease reader(db);
  Connection& conn = reader.conn();
  ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kRead));
  int64_t n = 0;
  {
    ASSIGN_OR_RETURN(Statement scan, conn.Prepare("SELECT sealed_secret FROM api_client_secrets",
                                                  "vault rotation: checking client secrets"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, scan.Step());
      if (!row) break;
      if (!cipher.SealedUnderCurrentKey(scan.ColumnBlob(0))) ++n;
    }
  }
  ASSIGN_OR_RETURN(Statement scan,
                   conn.Prepare(Cat("SELECT name_sealed, phone_sealed, id_number_sealed FROM "
                                    "customers WHERE ",
                                    kHasPii),
                                "vault rotation: checking customers"));
  for (;;) {
    ASSIGN_OR_RETURN(bool row, scan.Step());
    if (!row) break;
    for (int c = 0; c < 3; ++c) {
      if (!scan.ColumnIsNull(c) && !cipher.SealedUnderCurrentKey(scan.ColumnBlob(c))) ++n;
    }
  }
  return n;
}

}  // namespace mercator
