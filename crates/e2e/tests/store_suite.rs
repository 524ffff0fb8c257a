//! The store suite (`chat::testing::store_suite`) on the chat's SQL functions
//! in a real Postgres, through `testkit::native::NativeStore`, which makes
//! the same calls and reads them the same way as the Spin components. The
//! domain's unit tests run the same suite on the in-memory store, so the two
//! cannot drift apart unnoticed.

use e2e::TestDb;
use testkit::native::NativeStore;

#[test]
fn postgres_passes_the_store_suite() {
    let db = TestDb::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = NativeStore::connect(&db.app_url()).expect("a pool");
        chat::testing::store_suite(&store).await;
    });
}

/// `sql/current/functions.sql` is every `chat` function as the migrations
/// leave it (`pg_get_functiondef`), so a reader sees today's SQL in one
/// place instead of replaying `sql/0001` to the newest file. It must match
/// a freshly migrated database; `OSTCHAT_WRITE_FUNCTIONS=1` rewrites it.
#[test]
fn the_current_functions_file_is_what_the_migrations_define() {
    let db = TestDb::new();
    let rows = db
        .connect()
        .query(
            "SELECT pg_get_functiondef(p.oid)
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'chat'
             ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)",
            &[],
        )
        .expect("the function definitions");
    let mut now = String::from(
        "-- Every function of the `chat` schema as the migrations in sql/ leave it,\n\
         -- from pg_get_functiondef. Generated: change the migrations, then run\n\
         -- OSTCHAT_WRITE_FUNCTIONS=1 cargo test --release -p e2e --test store_suite\n\
         -- (a test fails while this file differs from a freshly migrated database).\n",
    );
    for row in rows {
        let def: String = row.get(0);
        now.push('\n');
        now.push_str(def.trim_end());
        now.push_str(";\n");
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sql/current/functions.sql"
    );
    if std::env::var_os("OSTCHAT_WRITE_FUNCTIONS").is_some() {
        std::fs::write(path, &now).expect("sql/current/functions.sql written");
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == now,
        "sql/current/functions.sql differs from the functions a fresh database has; \
         rerun with OSTCHAT_WRITE_FUNCTIONS=1 to rewrite it, then review the diff"
    );
}
