package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/services/internal/platform"
)

type service struct {
	db  *pgxpool.Pool
	nc  *nats.Conn
	log *slog.Logger
}

func (s *service) register() error {
	for subj, h := range map[string]platform.Handler{
		platform.SubjOwnerCreate: s.createOwner,
		platform.SubjAssetCreate: s.createAsset,
		platform.SubjAssetList:   s.listAssets,
		platform.SubjAssetGet:    s.getAsset,
		platform.SubjEventCreate: s.createEvent,
	} {
		if err := platform.Handle(s.nc, s.log, "assets", subj, h); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) createOwner(ctx context.Context, data []byte) (any, error) {
	var o platform.Owner
	if err := platform.Decode(data, &o); err != nil {
		return nil, err
	}
	if o.ID == "" || o.Email == "" {
		return nil, platform.Errorf(platform.CodeInvalid, "owner needs id and email")
	}
	_, err := s.db.Exec(ctx, `insert into owners (id, email, name) values ($1, $2, $3)
		on conflict (id) do update set email = excluded.email, name = excluded.name`, o.ID, o.Email, o.Name)
	return o, err
}

const assetCols = `id::text, owner_id, type, status, address, value::float8, area_sqm::float8, rental_income::float8,
	to_char(acquisition_date, 'YYYY-MM-DD'), description, created_at, updated_at`

func scanAsset(row pgx.Row) (platform.Asset, error) {
	var a platform.Asset
	err := row.Scan(&a.ID, &a.OwnerID, &a.Type, &a.Status, &a.Address, &a.Value, &a.AreaSqm, &a.RentalIncome,
		&a.AcquisitionDate, &a.Description, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

func validateAsset(in platform.AssetInput) error {
	var problems []string
	if !slices.Contains(platform.AssetTypes, in.Type) {
		problems = append(problems, "type must be one of "+strings.Join(platform.AssetTypes, ", "))
	}
	if !slices.Contains(platform.AssetStatuses, in.Status) {
		problems = append(problems, "status must be one of "+strings.Join(platform.AssetStatuses, ", "))
	}
	if strings.TrimSpace(in.Address) == "" || len(in.Address) > 500 {
		problems = append(problems, "address is required (at most 500 characters)")
	}
	if in.Value == nil || *in.Value < 0 {
		problems = append(problems, "value is required and must be 0 or more")
	}
	for name, v := range map[string]*float64{"areaSqm": in.AreaSqm, "rentalIncome": in.RentalIncome} {
		if v != nil && *v < 0 {
			problems = append(problems, name+" must be 0 or more")
		}
	}
	if in.AcquisitionDate != nil {
		if _, err := time.Parse("2006-01-02", *in.AcquisitionDate); err != nil {
			problems = append(problems, "acquisitionDate must be a date like 2024-03-31")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return platform.Errorf(platform.CodeInvalid, "%s", strings.Join(problems, "; "))
	}
	return nil
}

func (s *service) createAsset(ctx context.Context, data []byte) (any, error) {
	var req platform.CreateAssetRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	if err := validateAsset(req.Asset); err != nil {
		return nil, err
	}
	in := req.Asset
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	a, err := scanAsset(tx.QueryRow(ctx, `insert into assets (owner_id, type, status, address, value, area_sqm, rental_income, acquisition_date, description)
		values ($1, $2, $3, $4, $5, $6, $7, $8::date, $9) returning `+assetCols,
		req.OwnerID, in.Type, in.Status, strings.TrimSpace(in.Address), *in.Value, in.AreaSqm, in.RentalIncome, in.AcquisitionDate, in.Description))
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" { // foreign key: no such owner
			return nil, platform.Errorf(platform.CodeNotFound, "owner %s does not exist", req.OwnerID)
		}
		return nil, err
	}
	ev, err := insertEvent(ctx, tx, a.ID, "Created", nil)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	a.Events = []platform.AssetEvent{ev}
	s.notify(ctx, a, ev)
	return a, nil
}

func insertEvent(ctx context.Context, tx pgx.Tx, assetID, typ string, desc *string) (platform.AssetEvent, error) {
	var ev platform.AssetEvent
	err := tx.QueryRow(ctx, `insert into asset_events (asset_id, type, description) values ($1, $2, $3)
		returning id::text, asset_id::text, type, description, created_at`, assetID, typ, desc).
		Scan(&ev.ID, &ev.AssetID, &ev.Type, &ev.Description, &ev.CreatedAt)
	return ev, err
}

// notify asks the notifications service to tell the owner; a failure is logged, not returned:
// the event is recorded either way.
func (s *service) notify(ctx context.Context, a platform.Asset, ev platform.AssetEvent) {
	req := platform.CreateNotificationRequest{
		UserID: a.OwnerID, AssetID: a.ID, EventType: ev.Type,
		Title: fmt.Sprintf("%s: %s", ev.Type, a.Address),
		Body:  fmt.Sprintf("Your %s at %s: %s", strings.ToLower(a.Type), a.Address, ev.Type),
	}
	if ev.Description != nil && *ev.Description != "" {
		req.Body += " — " + *ev.Description
	}
	if err := platform.Request(ctx, s.nc, platform.SubjNotifCreate, req, nil); err != nil {
		platform.Log(ctx, s.log).Warn("notify owner", "asset", a.ID, "event", ev.ID, "err", err)
	}
}

func (s *service) listAssets(ctx context.Context, data []byte) (any, error) {
	var req platform.ListRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	page, limit := platform.Paging(req.Page, req.Limit)
	var total int
	if err := s.db.QueryRow(ctx, "select count(*) from assets where owner_id = $1", req.UserID).Scan(&total); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, "select "+assetCols+" from assets where owner_id = $1 order by created_at desc, id limit $2 offset $3",
		req.UserID, limit, (page-1)*limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := platform.Page[platform.Asset]{Data: []platform.Asset{}, Meta: platform.NewMeta(page, limit, total)}
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, err
		}
		out.Data = append(out.Data, a)
	}
	return out, rows.Err()
}

func (s *service) ownedAsset(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, owner, id string) (platform.Asset, error) {
	a, err := scanAsset(q.QueryRow(ctx, "select "+assetCols+" from assets where id::text = $1 and owner_id = $2", id, owner))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, platform.Errorf(platform.CodeNotFound, "asset %s not found", id)
	}
	return a, err
}

func (s *service) getAsset(ctx context.Context, data []byte) (any, error) {
	var req platform.GetRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	a, err := s.ownedAsset(ctx, s.db, req.UserID, req.ID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, "select id::text, asset_id::text, type, description, created_at from asset_events where asset_id = $1 order by created_at, id", a.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	a.Events = []platform.AssetEvent{}
	for rows.Next() {
		var ev platform.AssetEvent
		if err := rows.Scan(&ev.ID, &ev.AssetID, &ev.Type, &ev.Description, &ev.CreatedAt); err != nil {
			return nil, err
		}
		a.Events = append(a.Events, ev)
	}
	return a, rows.Err()
}

func (s *service) createEvent(ctx context.Context, data []byte) (any, error) {
	var req platform.CreateEventRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	if !slices.Contains(platform.EventTypes, req.Type) {
		return nil, platform.Errorf(platform.CodeInvalid, "type must be one of %s", strings.Join(platform.EventTypes, ", "))
	}
	if req.Description != nil && len(*req.Description) > 2000 {
		return nil, platform.Errorf(platform.CodeInvalid, "description is at most 2000 characters")
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	a, err := s.ownedAsset(ctx, tx, req.OwnerID, req.AssetID)
	if err != nil {
		return nil, err
	}
	ev, err := insertEvent(ctx, tx, a.ID, req.Type, req.Description)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "update assets set updated_at = now() where id = $1", a.ID); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	s.notify(ctx, a, ev)
	return ev, nil
}
