// The Paperclip external adapter `pocketos_local`: Paperclip imports this file and calls
// createServerAdapter(). Node built-ins only, so Paperclip can import it in place.
import { execute } from "./execute.js";
import { testEnvironment } from "./environment.js";
import { getConfigSchema, agentConfigurationDoc } from "./schema.js";
import { sessionCodec, sessionManagement } from "./session.js";

export const ADAPTER_TYPE = "pocketos_local";

export function createServerAdapter() {
  return {
    type: ADAPTER_TYPE,
    label: "pocketos (local VM)",
    execute,
    testEnvironment,
    supportsLocalAgentJwt: true,
    sessionCodec,
    sessionManagement,
    getConfigSchema,
    agentConfigurationDoc,
  };
}

export default createServerAdapter;
