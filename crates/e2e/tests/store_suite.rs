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
