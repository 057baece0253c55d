package platform

import "time"

// Subjects, in one dotted scheme: <service>.<verb>. Replies use the Reply envelope.
const (
	SubjAuthRegister = "auth.register" // RegisterRequest → AuthResult
	SubjAuthLogin    = "auth.login"    // LoginRequest → AuthResult
	SubjAuthVerify   = "auth.verify"   // VerifyRequest → User

	SubjOwnerCreate = "assets.owner.create" // Owner → Owner
	SubjAssetCreate = "assets.create"       // CreateAssetRequest → Asset
	SubjAssetList   = "assets.list"         // ListRequest → Page[Asset]
	SubjAssetGet    = "assets.get"          // GetRequest → Asset (with events)
	SubjEventCreate = "assets.event.create" // CreateEventRequest → AssetEvent

	SubjNotifCreate  = "notifications.create"   // CreateNotificationRequest → Notification
	SubjNotifList    = "notifications.list"     // ListRequest → Page[Notification]
	SubjNotifUnread  = "notifications.unread"   // UserRequest → Count
	SubjNotifRead    = "notifications.read"     // GetRequest → Notification
	SubjNotifReadAll = "notifications.readall"  // UserRequest → Updated
	SubjNotifCreated = "notifications.created." // + user id: Notification, published
	SubjGatewayPush  = "gateway.deliver."       // + instance id: Push, to one gateway replica
	NotifCreatedAll  = SubjNotifCreated + "*"   // what the gateways listen to, as a queue group
)

type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type RegisterRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type AuthResult struct {
	User  User   `json:"user"`
	Token string `json:"token"`
}

type VerifyRequest struct {
	Token string `json:"token"`
}

type Owner struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Asset types, statuses and event types the platform knows.
var (
	AssetTypes    = []string{"House", "Apartment", "Land", "Building", "Other"}
	AssetStatuses = []string{"Available", "Occupied", "ForSale", "Rented"}
	EventTypes    = []string{"Created", "Updated", "Deleted", "Acquired", "ListedForSale", "Sold", "Leased",
		"LeaseTerminated", "MaintenanceScheduled", "MaintenanceCompleted", "ValuationUpdated", "Decommissioned",
		"DamageReported", "InsuranceClaimFiled", "RenovationStarted", "RenovationCompleted"}
)

type AssetInput struct {
	Type            string   `json:"type"`
	Status          string   `json:"status"`
	Address         string   `json:"address"`
	Value           *float64 `json:"value"`
	AreaSqm         *float64 `json:"areaSqm,omitempty"`
	RentalIncome    *float64 `json:"rentalIncome,omitempty"`
	AcquisitionDate *string  `json:"acquisitionDate,omitempty"` // YYYY-MM-DD
	Description     *string  `json:"description,omitempty"`
}

type CreateAssetRequest struct {
	OwnerID string     `json:"ownerId"`
	Asset   AssetInput `json:"asset"`
}

type Asset struct {
	ID              string       `json:"id"`
	OwnerID         string       `json:"ownerId"`
	Type            string       `json:"type"`
	Status          string       `json:"status"`
	Address         string       `json:"address"`
	Value           float64      `json:"value"`
	AreaSqm         *float64     `json:"areaSqm,omitempty"`
	RentalIncome    *float64     `json:"rentalIncome,omitempty"`
	AcquisitionDate *string      `json:"acquisitionDate,omitempty"`
	Description     *string      `json:"description,omitempty"`
	CreatedAt       time.Time    `json:"createdAt"`
	UpdatedAt       time.Time    `json:"updatedAt"`
	Events          []AssetEvent `json:"events,omitempty"`
}

type AssetEvent struct {
	ID          string    `json:"id"`
	AssetID     string    `json:"assetId"`
	Type        string    `json:"type"`
	Description *string   `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

type CreateEventRequest struct {
	OwnerID     string  `json:"ownerId"`
	AssetID     string  `json:"assetId"`
	Type        string  `json:"type"`
	Description *string `json:"description,omitempty"`
}

type ListRequest struct {
	UserID string `json:"userId"`
	Page   int    `json:"page"`
	Limit  int    `json:"limit"`
}

type GetRequest struct {
	UserID string `json:"userId"`
	ID     string `json:"id"`
}

type UserRequest struct {
	UserID string `json:"userId"`
}

type Meta struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	Total      int `json:"total"`
	TotalPages int `json:"totalPages"`
}

type Page[T any] struct {
	Data []T  `json:"data"`
	Meta Meta `json:"meta"`
}

// NewMeta computes the page metadata.
func NewMeta(page, limit, total int) Meta {
	pages := 0
	if limit > 0 {
		pages = (total + limit - 1) / limit
	}
	return Meta{Page: page, Limit: limit, Total: total, TotalPages: pages}
}

// Paging normalises page (from 1) and limit (1..100, default 20).
func Paging(page, limit int) (int, int) {
	if page < 1 {
		page = 1
	}
	if limit < 1 {
		limit = 20
	}
	if limit > 100 {
		limit = 100
	}
	return page, limit
}

type CreateNotificationRequest struct {
	UserID    string `json:"userId"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	AssetID   string `json:"assetId,omitempty"`
	EventType string `json:"eventType,omitempty"`
}

type Notification struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	AssetID   string    `json:"assetId,omitempty"`
	EventType string    `json:"eventType,omitempty"`
	Read      bool      `json:"read"`
	CreatedAt time.Time `json:"createdAt"`
}

type Count struct {
	Count int `json:"count"`
}

type Updated struct {
	Updated int `json:"updated"`
}

// Push asks one gateway replica to deliver a notification to a user's sockets.
type Push struct {
	UserID       string       `json:"userId"`
	Notification Notification `json:"notification"`
}
