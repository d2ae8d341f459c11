/** A restaurant's staff member. */
export interface StaffMember {
  id: string;
  restaurantId: string;
  name: string;
  email: string;
  role: 'manager' | 'staff';
  invitedBy: string | null;
  createdAt: string;
}

/** The columns of a staff row as the API shows it. */
export const STAFF_COLUMNS = `id, tenant_id as "restaurantId", name, email, role, invited_by as "invitedBy", created_at as "createdAt"`;
