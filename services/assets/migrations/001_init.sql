create table owners (
    id         text primary key,
    email      text not null,
    name       text not null,
    created_at timestamptz not null default now()
);

create table assets (
    id               uuid primary key default gen_random_uuid(),
    owner_id         text not null references owners(id) on delete cascade,
    type             text not null check (type in ('House','Apartment','Land','Building','Other')),
    status           text not null check (status in ('Available','Occupied','ForSale','Rented')),
    address          text not null,
    value            numeric(16,2) not null check (value >= 0),
    area_sqm         numeric(12,2) check (area_sqm >= 0),
    rental_income    numeric(16,2) check (rental_income >= 0),
    acquisition_date date,
    description      text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index assets_owner_created on assets (owner_id, created_at desc);

create table asset_events (
    id          uuid primary key default gen_random_uuid(),
    asset_id    uuid not null references assets(id) on delete cascade,
    type        text not null check (type in ('Created','Updated','Deleted','Acquired','ListedForSale','Sold',
                  'Leased','LeaseTerminated','MaintenanceScheduled','MaintenanceCompleted','ValuationUpdated',
                  'Decommissioned','DamageReported','InsuranceClaimFiled','RenovationStarted','RenovationCompleted')),
    description text,
    created_at  timestamptz not null default now()
);
create index asset_events_asset on asset_events (asset_id, created_at);
