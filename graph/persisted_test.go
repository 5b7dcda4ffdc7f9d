package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/persisted"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/internal/testredis"
	"github.com/workingtracker/api/store"
)

// pq is Apollo's persisted-query extension naming id.
func pq(id string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": id}}
}

// postGraphQL posts body as JSON with token (none when "").
func postGraphQL(t *testing.T, srv *apitest.Server, token string, body map[string]any) apitest.Response {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return sendGraphQL(t, req, token)
}

// getGraphQL sends a GET with the given parameters, the JSON ones encoded.
func getGraphQL(t *testing.T, srv *apitest.Server, token string, params map[string]any) apitest.Response {
	t.Helper()
	q := url.Values{}
	for k, v := range params {
		if s, ok := v.(string); ok {
			q.Set(k, s)
			continue
		}
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		q.Set(k, string(raw))
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/query?"+q.Encode(), nil)
	require.NoError(t, err)
	return sendGraphQL(t, req, token)
}

func sendGraphQL(t *testing.T, req *http.Request, token string) apitest.Response {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return apitest.Decode(t, resp)
}

func requireCode(t *testing.T, r apitest.Response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Status, "errors: %+v", r.Errors)
	require.Len(t, r.Errors, 1, "data: %s", r.Data)
	require.Equal(t, code, r.Errors[0].Code(), r.Errors[0].Message)
	require.Nil(t, r.Data, "no data")
}

func requireData(t *testing.T, r apitest.Response) json.RawMessage {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "errors: %+v", r.Errors)
	require.Empty(t, r.Errors)
	require.NotEmpty(t, r.Data)
	return r.Data
}

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 2)
	globex := srv.NewTenant("globex")
	me := `query Me { me { id name } }`
	meID := store.OperationID(me)

	t.Run("MissRegisterHitOverPOST", func(t *testing.T) {
		miss := postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(meID)})
		requireCode(t, miss, http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
		require.Equal(t, "PersistedQueryNotFound", miss.Errors[0].Message, "what Apollo's clients match on")
		first := requireData(t, postGraphQL(t, srv, c.Token, map[string]any{"query": me, "extensions": pq(meID)}))
		hit := postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(meID)})
		require.JSONEq(t, string(first), string(requireData(t, hit)))
		require.Contains(t, hit.Extensions, "cost", "a persisted query is priced and charged like its text")
	})
	t.Run("MissRegisterHitOverGET", func(t *testing.T) {
		q := `query Mine($first: Int) { timeEntries(first: $first) { nodes { id } } }`
		id := store.OperationID(q)
		vars := map[string]any{"first": 2}
		requireCode(t, getGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(id), "variables": vars}),
			http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
		requireData(t, getGraphQL(t, srv, c.Token, map[string]any{"query": q, "extensions": pq(id), "variables": vars}))
		var got struct {
			TimeEntries struct{ Nodes []struct{ ID string } }
		}
		require.NoError(t, json.Unmarshal(requireData(t, getGraphQL(t, srv, c.Token,
			map[string]any{"extensions": pq(id), "variables": vars, "operationName": "Mine"})), &got))
		require.Len(t, got.TimeEntries.Nodes, 2, "variables apply")
	})
	t.Run("StringLiteralsAreRunNotStored", func(t *testing.T) {
		// A literal may be personal data (employeeByIdentifier(value: "123-45-6789")): it is not
		// kept in the shared cache, where another principal could probe its hash. The same
		// operation with a variable is.
		lit := `query Find { employees(filter: {search: "ada"}) { totalCount } }`
		requireData(t, postGraphQL(t, srv, c.Token, map[string]any{"query": lit, "extensions": pq(store.OperationID(lit))}))
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(store.OperationID(lit))}),
			http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
		withVar := `query Find($s: String) { employees(filter: {search: $s}) { totalCount } }`
		vars := map[string]any{"s": "ada"}
		requireData(t, postGraphQL(t, srv, c.Token, map[string]any{"query": withVar, "variables": vars,
			"extensions": pq(store.OperationID(withVar))}))
		requireData(t, postGraphQL(t, srv, c.Token, map[string]any{"variables": vars, "extensions": pq(store.OperationID(withVar))}))
	})
	t.Run("WrongHashRefusedAndNotStored", func(t *testing.T) {
		q := `query Other { me { email } }`
		wrong := store.OperationID(q + " ")
		r := postGraphQL(t, srv, c.Token, map[string]any{"query": q, "extensions": pq(wrong)})
		requireCode(t, r, http.StatusBadRequest, "PERSISTED_QUERY_HASH_MISMATCH")
		for _, id := range []string{wrong, store.OperationID(q)} {
			requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(id)}), http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
		}
	})
	t.Run("MalformedExtensionRefused", func(t *testing.T) {
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq("abc")}), http.StatusBadRequest, "BAD_REQUEST")
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": map[string]any{
			"persistedQuery": map[string]any{"version": 2, "sha256Hash": meID}}}), http.StatusBadRequest, "BAD_REQUEST")
	})
	t.Run("MutationNeverOverGET", func(t *testing.T) {
		m := `mutation Blur { setScreenshotBlur(enabled: false) { blur } }`
		id := store.OperationID(m)
		r := getGraphQL(t, srv, c.Token, map[string]any{"query": m, "extensions": pq(id)})
		requireCode(t, r, http.StatusMethodNotAllowed, "BAD_REQUEST")
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(id)}), http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
		// Registered over POST, where it runs, it still does not run over GET by id.
		requireData(t, postGraphQL(t, srv, c.Token, map[string]any{"query": m, "extensions": pq(id)}))
		requireCode(t, getGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(id)}), http.StatusMethodNotAllowed, "BAD_REQUEST")
		requireData(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(id)}))
	})
	t.Run("NoCredentialsNoData", func(t *testing.T) {
		requireCode(t, postGraphQL(t, srv, "", map[string]any{"extensions": pq(meID)}), http.StatusUnauthorized, "UNAUTHENTICATED")
		requireCode(t, getGraphQL(t, srv, "", map[string]any{"extensions": pq(meID)}), http.StatusUnauthorized, "UNAUTHENTICATED")
		requireCode(t, getGraphQL(t, srv, "not-a-token", map[string]any{"extensions": pq(meID)}), http.StatusUnauthorized, "UNAUTHENTICATED")
	})
	t.Run("CacheIsPerTenant", func(t *testing.T) {
		requireCode(t, postGraphQL(t, srv, globex.Token, map[string]any{"extensions": pq(meID)}), http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
	})
	t.Run("DocumentLimitsStillApply", func(t *testing.T) {
		deep := `query Deep { me { manager { manager { manager { manager { manager { manager { manager { manager { manager { manager { manager { manager { id } } } } } } } } } } } } } }`
		id := store.OperationID(deep)
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"query": deep, "extensions": pq(id)}), http.StatusOK, "COMPLEXITY_LIMIT")
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(id)}), http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
	})
}

func TestAutomaticPersistedQueriesSharedThroughRedis(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	signer, err := auth.GenerateSigner()
	require.NoError(t, err)
	rdb := testredis.Client(t)
	a := apitest.New(t, apitest.Opts{DatabaseURL: dbURL, Signer: signer, APQCache: persisted.NewRedisCache(rdb, time.Hour)})
	b := apitest.New(t, apitest.Opts{DatabaseURL: dbURL, Signer: signer, APQCache: persisted.NewRedisCache(rdb, time.Hour)})
	f := a.NewTenant("acme")
	q := `query Me { me { id } }`
	id := store.OperationID(q)
	requireCode(t, postGraphQL(t, b, f.Token, map[string]any{"extensions": pq(id)}), http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
	requireData(t, postGraphQL(t, a, f.Token, map[string]any{"query": q, "extensions": pq(id)}))
	requireData(t, getGraphQL(t, b, f.Token, map[string]any{"extensions": pq(id)}))
	ttl, err := rdb.TTL(context.Background(), "apq:"+f.Tenant.ID.String()+":"+id).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 50*time.Minute, "bounded by its TTL")
}

// operationInput is registerOperations' input for body.
func operationInput(name, typ, body string) map[string]any {
	return map[string]any{"id": store.OperationID(body), "name": name, "type": typ, "body": body}
}

func TestTrustedDocuments(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	ctx := context.Background()
	c := newCompany(t, srv, "acme", 3)
	admin, err := srv.Signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience,
		TenantID: c.Tenant.ID, EmployeeID: c.Admin.ID, Roles: []string{"ADMIN"}, MFA: true, TTL: time.Hour})
	require.NoError(t, err)
	employee := srv.Token(c.Tenant.ID, c.Employees[0].ID, "EMPLOYEE")
	hr := srv.Token(c.Tenant.ID, c.Admin.ID, "HR")
	_, bi, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "Looker", Role: store.RoleBI})
	require.NoError(t, err)
	globex := newCompany(t, srv, "globex", 1)
	_, globexBI, err := srv.Store.CreateAPIKey(ctx, globex.Scope, store.APIKeyParams{Name: "Looker", Role: store.RoleBI})
	require.NoError(t, err)

	register := `mutation Register($ops: [PersistedOperationInput!]!) { registerOperations(operations: $ops) {
		id name type version registeredBy { id } firstUsedAt lastUsedAt } }`
	team := `query Team($first: Int!) { employees(first: $first) { totalCount nodes { id } } }`
	start := `mutation Start($p: ID!) { startTimer(input: {projectId: $p}) { id } }`
	teamID := store.OperationID(team)
	type registered struct {
		RegisterOperations []struct {
			ID, Name, Type string
			Version        int
			RegisteredBy   *struct{ ID string }
		}
	}

	t.Run("RegisterNeedsADMINWithMFA", func(t *testing.T) {
		vars := map[string]any{"ops": []any{operationInput("Team", "QUERY", team)}}
		r := srv.Do(c.Token, register, vars)
		require.Equal(t, "MFA_REQUIRED", r.Errors[0].Code())
		require.Equal(t, "FORBIDDEN", srv.Do(hr, register, vars).Errors[0].Code())
		requireCode(t, postGraphQL(t, srv, bi, map[string]any{"query": register, "variables": vars}), http.StatusBadRequest,
			"PERSISTED_QUERY_REQUIRED")
		require.Equal(t, "FORBIDDEN", srv.Do(bi, register, vars).Errors[0].Code(), "registered (apitest.Do), still refused by its role rule")
		require.Equal(t, "FORBIDDEN", srv.Do(employee, `{ persistedOperations { id } }`, nil).Errors[0].Code())
		var got registered
		srv.MustData(admin, register, map[string]any{"ops": []any{operationInput("Team", "QUERY", team),
			operationInput("Start", "MUTATION", start)}}, &got)
		require.Len(t, got.RegisterOperations, 2)
		op := got.RegisterOperations[0]
		require.Equal(t, []any{teamID, "Team", "QUERY", 1}, []any{op.ID, op.Name, op.Type, op.Version})
		require.Equal(t, c.Admin.ID.String(), op.RegisteredBy.ID)
	})
	t.Run("BadEntriesRegisterNothing", func(t *testing.T) {
		good := operationInput("Fresh", "QUERY", `query Fresh { me { id } }`)
		for name, bad := range map[string]struct {
			op    map[string]any
			field string
		}{
			"HashOfAnotherBody": {map[string]any{"id": teamID, "name": "X", "type": "QUERY", "body": "query X { me { id } }"}, "operations.1.id"},
			"NameNotTheBodys":   {operationInput("Y", "QUERY", `query X { me { id } }`), "operations.1.name"},
			"TypeNotTheBodys":   {operationInput("X", "MUTATION", `query X { me { id } }`), "operations.1.type"},
			"InvalidForSchema":  {operationInput("X", "QUERY", `query X { me { nope } }`), "operations.1.body"},
			"TwoOperations":     {operationInput("X", "QUERY", `query X { me { id } } query Z { me { id } }`), "operations.1.body"},
		} {
			r := srv.Do(admin, register, map[string]any{"ops": []any{good, bad.op}})
			require.Len(t, r.Errors, 1, name)
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), name)
			require.Equal(t, bad.field, r.Errors[0].Extensions["field"], name)
		}
		var list struct{ PersistedOperations []struct{ Name string } }
		srv.MustData(admin, `{ persistedOperations(name: "Fresh") { name } }`, nil, &list)
		require.Empty(t, list.PersistedOperations, "all or none")
	})
	t.Run("DuplicatesKeepTheirVersionAndNewBodiesGetTheNext", func(t *testing.T) {
		var again registered
		srv.MustData(admin, register, map[string]any{"ops": []any{operationInput("Team", "QUERY", team),
			operationInput("Team", "QUERY", team)}}, &again)
		require.Len(t, again.RegisterOperations, 2)
		require.Equal(t, again.RegisterOperations[0], again.RegisterOperations[1])
		require.Equal(t, 1, again.RegisterOperations[0].Version)
		var next registered
		srv.MustData(admin, register, map[string]any{"ops": []any{operationInput("Team", "QUERY",
			`query Team { employees(first: 1) { totalCount } }`)}}, &next)
		require.Equal(t, 2, next.RegisterOperations[0].Version)
	})
	t.Run("BIRunsRegisteredOperationsByIDOverPOSTAndGET", func(t *testing.T) {
		vars := map[string]any{"first": 50}
		for name, r := range map[string]apitest.Response{
			"POSTPersistedQuery": postGraphQL(t, srv, bi, map[string]any{"extensions": pq(teamID), "variables": vars}),
			"POSTDocumentID":     postGraphQL(t, srv, bi, map[string]any{"documentId": "sha256:" + teamID, "variables": vars}),
			"GETPersistedQuery":  getGraphQL(t, srv, bi, map[string]any{"extensions": pq(teamID), "variables": vars}),
			"GETDocumentID":      getGraphQL(t, srv, bi, map[string]any{"documentId": "sha256:" + teamID, "variables": vars}),
			"GETBareDocumentID":  getGraphQL(t, srv, bi, map[string]any{"documentId": teamID, "variables": vars, "operationName": "Team"}),
			"POSTTextWithItsID":  postGraphQL(t, srv, bi, map[string]any{"query": team, "extensions": pq(teamID), "variables": vars}),
		} {
			var got struct{ Employees struct{ TotalCount int } }
			require.NoError(t, json.Unmarshal(requireData(t, r), &got), name)
			require.Equal(t, 4, got.Employees.TotalCount, "%s: BI reads the tenant", name)
		}
	})
	t.Run("BIRunsNothingElse", func(t *testing.T) {
		requireCode(t, postGraphQL(t, srv, bi, map[string]any{"query": team, "variables": map[string]any{"first": 5}}),
			http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
		requireCode(t, getGraphQL(t, srv, bi, map[string]any{"query": `{ me { id } }`}), http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
		// An APQ another principal cached is not a registered operation.
		q := `query Cached { employees(first: 5) { totalCount } }`
		requireData(t, postGraphQL(t, srv, c.Token, map[string]any{"query": q, "extensions": pq(store.OperationID(q))}))
		requireCode(t, postGraphQL(t, srv, bi, map[string]any{"extensions": pq(store.OperationID(q))}), http.StatusBadRequest,
			"PERSISTED_QUERY_REQUIRED")
		requireCode(t, postGraphQL(t, srv, bi, map[string]any{"query": q, "extensions": pq(store.OperationID(q))}),
			http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
		requireCode(t, postGraphQL(t, srv, bi, map[string]any{"query": q + " ", "extensions": pq(teamID)}),
			http.StatusBadRequest, "PERSISTED_QUERY_HASH_MISMATCH")
		// A registered mutation is still refused by its role rules.
		r := postGraphQL(t, srv, bi, map[string]any{"extensions": pq(store.OperationID(start)), "variables": map[string]any{"p": c.Projects[0].ID}})
		require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	})
	t.Run("OtherRolesGetTheirOwnRows", func(t *testing.T) {
		var got struct{ Employees struct{ TotalCount int } }
		require.NoError(t, json.Unmarshal(requireData(t, postGraphQL(t, srv, employee,
			map[string]any{"extensions": pq(teamID), "variables": map[string]any{"first": 50}})), &got))
		require.Equal(t, 1, got.Employees.TotalCount, "an EMPLOYEE sees only themself through a registered operation")
	})
	t.Run("AnotherTenantsOperationIsNotRunnable", func(t *testing.T) {
		vars := map[string]any{"first": 50}
		requireCode(t, postGraphQL(t, srv, globexBI, map[string]any{"extensions": pq(teamID), "variables": vars}),
			http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
		requireCode(t, getGraphQL(t, srv, globexBI, map[string]any{"documentId": "sha256:" + teamID, "variables": vars}),
			http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
		requireCode(t, postGraphQL(t, srv, globex.Token, map[string]any{"extensions": pq(teamID), "variables": vars}),
			http.StatusOK, "PERSISTED_QUERY_NOT_FOUND")
	})
	t.Run("ListShowsOwnerHashAndUse", func(t *testing.T) {
		var list struct {
			PersistedOperations []struct {
				ID, Name, Type, Body    string
				Version                 int
				RegisteredBy            *struct{ ID string }
				FirstUsedAt, LastUsedAt *time.Time
			}
		}
		srv.MustData(admin, `{ persistedOperations(name: "Team") { id name type body version registeredBy { id } firstUsedAt lastUsedAt } }`, nil, &list)
		require.Len(t, list.PersistedOperations, 2)
		latest, first := list.PersistedOperations[0], list.PersistedOperations[1]
		require.Equal(t, []any{2, 1}, []any{latest.Version, first.Version}, "newest version first")
		require.Equal(t, teamID, first.ID)
		require.Equal(t, team, first.Body)
		require.NotNil(t, first.LastUsedAt, "the runs above were recorded")
		require.NotNil(t, first.FirstUsedAt)
		require.Nil(t, latest.LastUsedAt, "never run")
		// Runs within the minute write nothing more.
		var lastUsed time.Time
		requireData(t, postGraphQL(t, srv, bi, map[string]any{"extensions": pq(teamID), "variables": map[string]any{"first": 1}}))
		require.NoError(t, testdb.AsTenant(ctx, srv.Store.Pool(), c.Tenant.ID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT last_used_at FROM persisted_operations WHERE id = $1`, teamID).Scan(&lastUsed)
		}))
		require.WithinDuration(t, *first.LastUsedAt, lastUsed, time.Millisecond)
	})
}

func TestTrustedDocumentsOnly(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{RegisteredOnly: true, NoIntrospection: true})
	c := newCompany(t, srv, "acme", 1)
	me := `query Me { me { id } }`
	registrar := persisted.Registrar{Store: srv.Store}
	_, err := registrar.RegisterOperations(context.Background(), store.Scope{TenantID: c.Tenant.ID},
		[]store.PersistedOperationParams{{ID: store.OperationID(me), Name: "Me", Type: store.OperationQuery, Body: me}})
	require.NoError(t, err)
	t.Run("TextIsRefusedForEveryone", func(t *testing.T) {
		requireCode(t, srv.Do(c.Token, `{ me { id } }`, nil), http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
		requireCode(t, srv.Do(c.Token, `{ __schema { types { name } } }`, nil), http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
	})
	t.Run("APQRegistersNothing", func(t *testing.T) {
		q := `query Other { me { name } }`
		id := store.OperationID(q)
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"query": q, "extensions": pq(id)}), http.StatusBadRequest,
			"PERSISTED_QUERY_REQUIRED")
		requireCode(t, postGraphQL(t, srv, c.Token, map[string]any{"extensions": pq(id)}), http.StatusBadRequest, "PERSISTED_QUERY_REQUIRED")
	})
	t.Run("RegisteredOperationsRun", func(t *testing.T) {
		var got struct{ Me struct{ ID uuid.UUID } }
		require.NoError(t, json.Unmarshal(requireData(t, getGraphQL(t, srv, c.Token,
			map[string]any{"documentId": "sha256:" + store.OperationID(me)})), &got))
		require.Equal(t, c.Admin.ID, got.Me.ID)
	})
	t.Run("NoCredentialsNoData", func(t *testing.T) {
		requireCode(t, postGraphQL(t, srv, "", map[string]any{"extensions": pq(store.OperationID(me))}), http.StatusUnauthorized,
			"UNAUTHENTICATED")
	})
}
