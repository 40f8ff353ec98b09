import type { Role } from '../db/index.ts';

/** Who is calling: resolved from the API key by the auth middleware. */
export interface Principal {
  keyId: number;
  role: Role;
  /** Set for pos keys: the only store they act for. */
  storeId: number | null;
  /** Set for vendor keys: the manufacturer whose data they see. */
  manufacturerId: string | null;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    principal: Principal;
  };
}
