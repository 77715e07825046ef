// Errand on a namespace a platform team hands it without its search attributes, on a Temporal
// that checks every caller's JWT (the server's default claim mapper and authorizer): with
// credentials that may run workflows there but not change the namespace (`<namespace>:write`),
// `errand api` stops, naming the attributes it lacks, the permission it lacks and the commands
// that add them; with a namespace admin's, the same start registers them and serves, and from
// then on a writer's credentials are enough. The cluster is one of its own: the lane's shared one
// checks nobody's credentials.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Connection } from '@temporalio/client';
import { ModelServer } from '../fixtures/model-server.js';
import { api, startErrand } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { startTemporalCluster, temporalClusterPart, type TemporalCluster } from '../support/temporal-cluster.js';
import { startJwtIssuer, SYSTEM_ADMIN, type JwtIssuer } from '../support/temporal-jwt.js';

const NAMESPACE = `errand-authz-${randomBytes(3).toString('hex')}`;
const ERRAND_ATTRIBUTES = ['ErrandRepo', 'ErrandPhase', 'ErrandRequester'];

describeWithPart(temporalClusterPart, 'search attributes on a Temporal that authorizes its callers', () => {
  let issuer: JwtIssuer;
  let cluster: TemporalCluster;
  let model: ModelServer;

  beforeAll(async () => {
    // The server reads the JWKS as it starts: the issuer first.
    issuer = await startJwtIssuer();
    cluster = await startTemporalCluster({ namespace: NAMESPACE, authorization: { jwksUrl: issuer.jwksUrl, adminToken: issuer.token(SYSTEM_ADMIN) } });
    model = new ModelServer();
    await model.start();
  }, 180_000);

  afterAll(async () => {
    await model?.stop();
    await cluster?.stop();
    await issuer?.stop();
  });

  /** The namespace's custom search attributes, as a system admin reads them. */
  const registered = async () => {
    const connection = await Connection.connect({ address: cluster.address, apiKey: issuer.token(SYSTEM_ADMIN), tls: false });
    try {
      return Object.keys((await connection.operatorService.listSearchAttributes({ namespace: NAMESPACE })).customAttributes ?? {});
    } finally {
      await connection.close();
    }
  };

  /** `errand api` on the namespace with a token for `permissions`, sent as a bearer over plaintext gRPC (ERRAND_TEMPORAL_TLS=false). */
  const errandApi = (permissions: string[]) =>
    startErrand({
      command: 'api',
      env: {
        ERRAND_TEMPORAL_ADDRESS: cluster.address,
        ERRAND_TEMPORAL_NAMESPACE: NAMESPACE,
        ERRAND_TEMPORAL_API_KEY: issuer.token(permissions, 'errand'),
        ERRAND_TEMPORAL_TLS: 'false',
        ERRAND_MODEL_BASE_URL: model.url,
        ERRAND_MODEL: 'fixture',
      },
    });

  it('stops, naming what is missing, the permission it lacks and the commands that add them, when its credentials may not add them', async () => {
    expect(await registered()).not.toContain('ErrandRepo');
    const refusal = await errandApi([`${NAMESPACE}:write`]).then(
      async (errand) => {
        await errand.stop();
        return 'errand api started';
      },
      (err: Error) => err.message,
    );
    expect(refusal).toContain(
      `errand: namespace ${NAMESPACE} lacks Errand's search attributes ErrandRepo, ErrandPhase, ErrandRequester, and Errand's credentials lack the permission to add them` +
        ` (the operator API's AddSearchAttributes, which a namespace admin has; Temporal answered "Request unauthorized"). Have them added, then start Errand again:\n` +
        `  temporal operator search-attribute create --namespace ${NAMESPACE} --name ErrandRepo --name ErrandPhase --name ErrandRequester --type Keyword\n` +
        `  (Temporal Cloud: tcld namespace search-attributes add --namespace ${NAMESPACE} --search-attribute "ErrandRepo=Keyword" --search-attribute "ErrandPhase=Keyword" --search-attribute "ErrandRequester=Keyword")`,
    );
    // Refused, nothing was half done.
    expect(await registered()).not.toContain('ErrandRepo');
  });

  it("registers them with a namespace admin's credentials; then a writer's are enough", async () => {
    for (const role of ['admin', 'write']) {
      const errand = await errandApi([`${NAMESPACE}:${role}`]);
      try {
        expect(await registered()).toEqual(expect.arrayContaining(ERRAND_ATTRIBUTES));
        // Task lists filter on them: the API's query of the namespace answers.
        expect(await api(errand.url, 'GET', '/tasks')).toMatchObject({ status: 200, body: { tasks: [] } });
      } finally {
        await errand.stop();
      }
    }
  });
});
