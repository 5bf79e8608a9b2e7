// One schema for both backends: only types that SQLite and PostgreSQL share.

diesel::table! {
    areas (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        level -> Text,
        name -> Text,
        path -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    stores (id) {
        id -> Text,
        name -> Text,
        area_id -> Text,
        address -> Text,
        opening_hours -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        area_id -> Nullable<Text>,
        store_id -> Nullable<Text>,
        disabled -> Bool,
        must_change_password -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ip -> Text,
        user_agent -> Text,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        username -> Text,
        ip -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        user_id -> Nullable<Text>,
        username -> Text,
        action -> Text,
        target_kind -> Text,
        target_id -> Text,
        summary -> Text,
        ip -> Text,
        request_id -> Text,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    items (id) {
        id -> Text,
        name -> Text,
        category -> Text,
        unit -> Text,
        points_price -> BigInt,
        barcode -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    store_items (store_id, item_id) {
        store_id -> Text,
        item_id -> Text,
        points_price -> Nullable<BigInt>,
        low_threshold -> BigInt,
    }
}

diesel::table! {
    donors (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        contact_person -> Text,
        phone -> Text,
        address -> Text,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    donations (id) {
        id -> Text,
        number -> Text,
        donor_id -> Text,
        store_id -> Text,
        donated_on -> Date,
        money_fen -> BigInt,
        note -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    donation_lines (id) {
        id -> Text,
        donation_id -> Text,
        line_no -> Integer,
        item_id -> Text,
        quantity -> BigInt,
        value_fen -> BigInt,
    }
}

diesel::table! {
    stocktakes (id) {
        id -> Text,
        number -> Text,
        store_id -> Text,
        status -> Text,
        show_expected -> Bool,
        started_by -> Text,
        counted_by -> Text,
        created_at -> Timestamp,
        posted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    stocktake_lines (stocktake_id, item_id) {
        stocktake_id -> Text,
        item_id -> Text,
        expected -> BigInt,
        counted -> Nullable<BigInt>,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> Text,
        seq -> BigInt,
        at -> Timestamp,
        kind -> Text,
        item_id -> Text,
        quantity -> BigInt,
        from_account -> Text,
        to_account -> Text,
        from_store_id -> Nullable<Text>,
        to_store_id -> Nullable<Text>,
        donation_id -> Nullable<Text>,
        stocktake_id -> Nullable<Text>,
        reverses_id -> Nullable<Text>,
        reason -> Text,
        user_id -> Nullable<Text>,
        username -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    stock_chain_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    stock (store_id, item_id) {
        store_id -> Text,
        item_id -> Text,
        quantity -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (key) {
        key -> Text,
        scope -> Text,
        user_id -> Text,
        request_hash -> Text,
        result -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(stores -> areas (area_id));
diesel::joinable!(users -> areas (area_id));
diesel::joinable!(users -> stores (store_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(store_items -> stores (store_id));
diesel::joinable!(store_items -> items (item_id));
diesel::joinable!(donations -> donors (donor_id));
diesel::joinable!(donations -> stores (store_id));
diesel::joinable!(donation_lines -> donations (donation_id));
diesel::joinable!(donation_lines -> items (item_id));
diesel::joinable!(stocktakes -> stores (store_id));
diesel::joinable!(stocktake_lines -> stocktakes (stocktake_id));
diesel::joinable!(stocktake_lines -> items (item_id));
diesel::joinable!(stock_movements -> items (item_id));
diesel::joinable!(stock -> stores (store_id));
diesel::joinable!(stock -> items (item_id));

diesel::allow_tables_to_appear_in_same_query!(
    areas,
    stores,
    users,
    sessions,
    login_failures,
    audit_log,
    settings,
    items,
    store_items,
    donors,
    counters,
    donations,
    donation_lines,
    stocktakes,
    stocktake_lines,
    stock_movements,
    stock_chain_head,
    stock,
    idempotency_keys,
);
