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

diesel::joinable!(stores -> areas (area_id));
diesel::joinable!(users -> areas (area_id));
diesel::joinable!(users -> stores (store_id));
diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    households (id) {
        id -> Text,
        head_name -> Text,
        id_cipher -> Text,
        id_lookup -> Text,
        id_masked -> Text,
        id_last4 -> Text,
        phone_cipher -> Text,
        phone_masked -> Text,
        area_id -> Text,
        address -> Text,
        members -> BigInt,
        status -> Text,
        helper_id -> Nullable<Text>,
        notes -> Text,
        archived -> Bool,
        archived_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        created_by -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    points_cards (card_no) {
        card_no -> Text,
        household_id -> Text,
        issued_at -> Timestamp,
        issued_by -> Text,
        replaced_by -> Nullable<Text>,
        replaced_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    household_status_history (id) {
        id -> Text,
        household_id -> Text,
        at -> Timestamp,
        user_id -> Nullable<Text>,
        username -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        reason -> Text,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> Text,
        kind -> Text,
        user_id -> Text,
        file_name -> Text,
        file -> Binary,
        state -> Text,
        rows_total -> BigInt,
        rows_done -> BigInt,
        report -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(households -> areas (area_id));
diesel::joinable!(households -> users (helper_id));
diesel::joinable!(points_cards -> households (household_id));
diesel::joinable!(household_status_history -> households (household_id));

// Every table, once.
diesel::allow_tables_to_appear_in_same_query!(
    areas,
    stores,
    users,
    sessions,
    login_failures,
    audit_log,
    settings,
    households,
    points_cards,
    household_status_history,
    import_jobs,
);
