// One schema for both backends: only types that SQLite and PostgreSQL share.

diesel::table! {
    areas (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        level -> Text,
        name -> Text,
        path -> Text,
        created_at -> Timestamp,
        name_pinyin -> Text,
        name_initials -> Text,
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
        phone -> Text,
        receipt_paper -> Text,
        print_after_confirm -> Bool,
        version -> BigInt,
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
        last_login_at -> Nullable<Timestamp>,
        id_cipher -> Text,
        id_lookup -> Text,
        id_masked -> Text,
        phone_cipher -> Text,
        phone_masked -> Text,
        home_area_id -> Nullable<Text>,
        home_address -> Text,
        version -> BigInt,
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
        name_pinyin -> Text,
        name_initials -> Text,
        version -> BigInt,
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
        name_pinyin -> Text,
        name_initials -> Text,
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
        reversed_at -> Nullable<Timestamp>,
        reversed_by -> Text,
        reverse_reason -> Text,
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
        start_seq -> BigInt,
        end_seq -> Nullable<BigInt>,
        version -> BigInt,
        witnessed_by -> Text,
    }
}

diesel::table! {
    stocktake_lines (stocktake_id, item_id) {
        stocktake_id -> Text,
        item_id -> Text,
        expected -> BigInt,
        counted -> Nullable<BigInt>,
        moved -> BigInt,
        counted_seq -> Nullable<BigInt>,
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
        honour_opt_out -> Bool,
        head_pinyin -> Text,
        head_initials -> Text,
        version -> BigInt,
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
        pin_cipher -> Nullable<Text>,
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
        refused_rows -> Binary,
        skip_registered -> Bool,
    }
}

diesel::joinable!(households -> areas (area_id));
diesel::joinable!(households -> users (helper_id));
diesel::joinable!(points_cards -> households (household_id));
diesel::joinable!(household_status_history -> households (household_id));

diesel::table! {
    rule_categories (id) {
        id -> Text,
        name -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    rules (id) {
        id -> Text,
        code -> Text,
        version -> BigInt,
        name -> Text,
        category_id -> Text,
        points -> BigInt,
        cap_count -> Nullable<BigInt>,
        cap_points -> Nullable<BigInt>,
        cap_period -> Nullable<Text>,
        valid_from -> Nullable<Date>,
        valid_to -> Nullable<Date>,
        active -> Bool,
        superseded_by -> Nullable<Text>,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    awards (id) {
        id -> Text,
        household_id -> Text,
        rule_id -> Text,
        rule_code -> Text,
        points -> BigInt,
        occurred_on -> Date,
        note -> Text,
        status -> Text,
        batch_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        proposed_by -> Text,
        proposed_at -> Timestamp,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
        review_note -> Text,
        notice_until -> Nullable<Date>,
        objection -> Text,
        entry_id -> Nullable<Text>,
        reversed_by -> Nullable<Text>,
        reversed_at -> Nullable<Timestamp>,
        reverse_reason -> Text,
        updated_at -> Timestamp,
        version -> BigInt,
        settle_error -> Text,
    }
}

diesel::table! {
    point_entries (seq) {
        seq -> BigInt,
        id -> Text,
        at -> Timestamp,
        posted_on -> Date,
        debit -> Text,
        credit -> Text,
        amount -> BigInt,
        kind -> Text,
        ref_kind -> Text,
        ref_id -> Text,
        memo -> Text,
        user_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        reverses -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    point_balances (account) {
        account -> Text,
        balance -> BigInt,
    }
}

diesel::table! {
    ledger_heads (name) {
        name -> Text,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    point_adjustments (id) {
        id -> Text,
        household_id -> Text,
        amount -> BigInt,
        reason -> Text,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        entry_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        version -> BigInt,
    }
}

diesel::table! {
    job_runs (job) {
        job -> Text,
        at -> Timestamp,
        done -> Text,
        failed -> Text,
    }
}

diesel::joinable!(rules -> rule_categories (category_id));
diesel::joinable!(awards -> households (household_id));
diesel::joinable!(awards -> rules (rule_id));
diesel::joinable!(point_adjustments -> households (household_id));

diesel::table! {
    redemptions (id) {
        id -> Text,
        number -> Text,
        store_id -> Text,
        household_id -> Text,
        card_no -> Text,
        clerk_id -> Nullable<Text>,
        clerk_username -> Text,
        total_points -> BigInt,
        balance_after -> BigInt,
        status -> Text,
        points_entry_id -> Text,
        idempotency_key -> Text,
        created_at -> Timestamp,
        voided_at -> Nullable<Timestamp>,
        voided_by -> Text,
        void_reason -> Text,
    }
}

diesel::table! {
    redemption_lines (id) {
        id -> Text,
        redemption_id -> Text,
        line_no -> BigInt,
        item_id -> Text,
        item_name -> Text,
        unit -> Text,
        quantity -> BigInt,
        unit_points -> BigInt,
        points -> BigInt,
        movement_id -> Text,
    }
}

diesel::joinable!(redemptions -> stores (store_id));
diesel::joinable!(redemptions -> households (household_id));
diesel::joinable!(redemption_lines -> redemptions (redemption_id));
diesel::joinable!(redemption_lines -> items (item_id));

// Every table, once.
diesel::joinable!(month_closes -> users (closed_by));

diesel::allow_tables_to_appear_in_same_query!(
    month_closes,
    point_month_totals,
    household_months,
    redeemer_months,
    village_closings,
    quiet_spells,
    area_closings,
    stock_month_totals,
    redemption_month_totals,
    report_snapshots,
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
    rule_categories,
    rules,
    awards,
    point_entries,
    point_balances,
    ledger_heads,
    point_adjustments,
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
    redemptions,
    redemption_lines,
    api_tokens,
    card_failures,
    deed_reports,
    deed_photos,
    notice_objections,
);

diesel::table! {
    month_closes (month) {
        month -> Text,
        closed_at -> Timestamp,
        closed_by -> Text,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        user_id -> Text,
        name -> Nullable<Text>,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));

diesel::table! {
    card_failures (id) {
        id -> Text,
        card_no -> Text,
        ip -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    point_month_totals (month, area_id, kind, category_id) {
        month -> Text,
        area_id -> Text,
        kind -> Text,
        category_id -> Text,
        points -> BigInt,
        entries -> BigInt,
    }
}

diesel::table! {
    /// Units moved onto (direction 1) or off (-1) a store's shelf per UTC
    /// month, item and kind (`ledger::goods_totals`).
    stock_month_totals (month, store_id, item_id, kind, direction) {
        month -> Text,
        store_id -> Text,
        item_id -> Text,
        kind -> Text,
        direction -> BigInt,
        quantity -> BigInt,
        movements -> BigInt,
    }
}

diesel::table! {
    /// Redemptions made per UTC month and household's village, per store
    /// and per item (`ledger::redemption_totals`).
    redemption_month_totals (month, area_id, store_id, item_id, item_name) {
        month -> Text,
        area_id -> Text,
        store_id -> Text,
        item_id -> Text,
        item_name -> Text,
        redemptions -> BigInt,
        quantity -> BigInt,
        points -> BigInt,
    }
}

diesel::table! {
    household_months (month, household_id) {
        month -> Text,
        household_id -> Text,
        area_id -> Text,
    }
}

diesel::table! {
    /// Each village's points balance at the end of each closed month
    /// (`ledger::totals::keep_closings`).
    village_closings (area_id, month) {
        area_id -> Text,
        month -> Text,
        points -> BigInt,
    }
}

diesel::table! {
    /// Each household's quiet spells: three or more months without taking
    /// part (`ledger::quiet`).
    quiet_spells (household_id, from_month) {
        household_id -> Text,
        from_month -> Text,
        to_month -> Text,
        last_active -> Text,
    }
}

diesel::table! {
    /// Each area's trend figures of each closed month
    /// (`ledger::totals::keep_closings`).
    area_closings (area_id, month) {
        area_id -> Text,
        month -> Text,
        awarded -> BigInt,
        redeemed -> BigInt,
        taking_part -> BigInt,
    }
}

diesel::table! {
    /// Per household and month, its redemptions of the month still standing
    /// (`ledger::redeemer_totals`).
    redeemer_months (month, household_id) {
        month -> Text,
        household_id -> Text,
        area_id -> Text,
        standing -> BigInt,
    }
}

diesel::table! {
    report_snapshots (month, scope) {
        month -> Text,
        scope -> Text,
        body -> Text,
        made_at -> Timestamp,
    }
}

diesel::table! {
    household_sessions (token_hash) {
        token_hash -> Text,
        household_id -> Text,
        card_no -> Text,
        ip -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    auth_throttles (key) {
        key -> Text,
        failures -> BigInt,
        window_start -> Timestamp,
    }
}

diesel::table! {
    deed_reports (id) {
        id -> Text,
        household_id -> Text,
        card_no -> Text,
        rule_id -> Text,
        rule_code -> Text,
        occurred_on -> Date,
        note -> Text,
        status -> Text,
        decline_reason -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        award_id -> Nullable<Text>,
        created_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    deed_photos (id) {
        id -> Text,
        report_id -> Text,
        position -> BigInt,
        width -> BigInt,
        height -> BigInt,
        jpeg -> Binary,
    }
}

diesel::table! {
    notice_objections (id) {
        id -> Text,
        award_id -> Text,
        household_id -> Text,
        reason -> Text,
        status -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Text,
        created_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::joinable!(deed_reports -> households (household_id));
diesel::joinable!(deed_reports -> rules (rule_id));
diesel::joinable!(deed_photos -> deed_reports (report_id));
diesel::joinable!(notice_objections -> awards (award_id));

diesel::table! {
    signal_marks (id) {
        id -> Text,
        month -> Text,
        kind -> Text,
        subject -> Text,
        note -> Text,
        marked_by -> Text,
        marked_at -> Timestamp,
    }
}

diesel::joinable!(signal_marks -> users (marked_by));
diesel::allow_tables_to_appear_in_same_query!(signal_marks, users);

diesel::table! {
    signal_month_counts (month, area_id, kind) {
        month -> Text,
        area_id -> Text,
        kind -> Text,
        findings -> BigInt,
        thresholds -> Text,
        computed_at -> Timestamp,
    }
}
