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

diesel::allow_tables_to_appear_in_same_query!(settings, units, users);
