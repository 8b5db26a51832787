// The tables of both backends. Columns use only the SQL types that diesel's MultiConnection
// supports on both: identifiers are `Text`, instants are `BigInt` microseconds since the epoch.

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    units (edition, code) {
        edition -> Integer,
        code -> Text,
        name -> Text,
        name_folded -> Text,
        level -> Text,
        division_type -> Text,
        parent_code -> Nullable<Text>,
        path -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        scope_edition -> Nullable<Integer>,
        scope_code -> Nullable<Text>,
        scope_path -> Nullable<Text>,
        disabled -> Bool,
        created_at -> BigInt,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    assets (code) {
        code -> Text,
        name -> Text,
        unit -> Text,
        scale -> Integer,
        kind -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    funds (id) {
        id -> Text,
        unit_edition -> Integer,
        unit_code -> Text,
        unit_path -> Text,
        name -> Text,
        custodian -> Text,
        custodian_kind -> Text,
        created_at -> BigInt,
        created_by -> Text,
        chain_seq -> BigInt,
        chain_head -> Text,
    }
}

diesel::table! {
    fund_bank_accounts (id) {
        id -> Text,
        fund_id -> Text,
        bank -> Text,
        account_number -> Text,
        account_name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        fund_id -> Text,
        kind -> Text,
        asset -> Text,
        designation -> Text,
        posted -> BigInt,
        reserved -> BigInt,
    }
}

diesel::table! {
    entries (id) {
        id -> Text,
        fund_id -> Text,
        seq -> BigInt,
        kind -> Text,
        reason -> Text,
        actor_id -> Text,
        ref_type -> Nullable<Text>,
        ref_id -> Nullable<Text>,
        reverses_entry_id -> Nullable<Text>,
        effective_at -> BigInt,
        recorded_at -> BigInt,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    postings (entry_id, idx) {
        entry_id -> Text,
        idx -> Integer,
        account_id -> Text,
        asset -> Text,
        amount -> BigInt,
    }
}

diesel::table! {
    holds (id) {
        id -> Text,
        fund_id -> Text,
        account_id -> Text,
        asset -> Text,
        amount -> BigInt,
        status -> Text,
        posted_amount -> Nullable<BigInt>,
        entry_id -> Nullable<Text>,
        ref_type -> Nullable<Text>,
        ref_id -> Nullable<Text>,
        reason -> Text,
        created_at -> BigInt,
        created_by -> Text,
        resolved_at -> Nullable<BigInt>,
        resolved_by -> Nullable<Text>,
    }
}

diesel::joinable!(postings -> entries (entry_id));
diesel::joinable!(postings -> accounts (account_id));
diesel::joinable!(fund_bank_accounts -> funds (fund_id));
diesel::allow_tables_to_appear_in_same_query!(
    assets,
    funds,
    fund_bank_accounts,
    accounts,
    entries,
    postings,
    holds,
    units,
    users
);
