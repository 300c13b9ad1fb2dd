/** Word lists the generator draws from. Some names and subjects are non-ASCII on purpose (RFC 2047 headers). */

export const FIRST_NAMES = [
  'Amara', 'Bruno', 'Chen', 'Dalia', 'Emeka', 'Freya', 'Gustavo', 'Hana', 'Ivan', 'Jasmin', 'Kofi', 'Lena',
  'Mateo', 'Nadia', 'Oskar', 'Priya', 'Quentin', 'Rosa', 'Sven', 'Tamar', 'Uma', 'Viktor', 'Wen', 'Ximena',
  'Yusuf', 'Zoë', 'José', 'Søren', 'Ingrid', 'Łukasz', 'Anaïs', 'Björn', 'Chloé', 'Dmitri', 'Elif', 'Farah',
  'Gaël', 'Hiroshi', 'Inès', 'Jürgen', 'Kenji', 'Leïla', 'Miguel', 'Noor', 'Olusegun', 'Pilar', 'Ravi', 'Saoirse',
];

export const LAST_NAMES = [
  'Okafor', 'Silva', 'Wei', 'Haddad', 'Nwosu', 'Larsen', 'Pereira', 'Sato', 'Petrov', 'Khan', 'Müller',
  'Núñez', 'Ødegaard', 'García', 'Kowalski', 'Dubois', 'Yılmaz', 'Andersson', 'Rossi', 'Nakamura', 'Brennan',
  'Fischer', 'Moreau', 'Ivanova', 'Mensah', 'Tanaka', 'Lindqvist', 'Costa', 'Åberg', 'Schäfer', 'Mbeki',
];

export const PERSONAL_DOMAINS = ['gmail.com', 'outlook.com', 'proton.me', 'yahoo.com', 'icloud.com', 'fastmail.com', 'hey.com', 'hotmail.com'];

export const ROLES = [
  'Senior Backend Engineer', 'Product Designer', 'Data Scientist', 'Engineering Manager', 'Site Reliability Engineer',
  'Frontend Engineer', 'Technical Recruiter', 'Security Engineer', 'Mobile Developer', 'Solutions Architect',
];

export const CANDIDATE_SUBJECTS = [
  '{role} opportunity at {company}',
  'Quick chat about the {role} role?',
  'Interview availability — {role}',
  'Follow-up: {role} interview',
  'Your application for {role}',
  'Next steps with {company}',
  'Offer details — {role}',
  'Entretien pour le poste de {role}',
  'Café ☕ next week?',
  'Bewerbung als {role} – Rückfrage',
  '面接の日程について',
  'Références et prétentions salariales',
];

export const CANDIDATE_OPENERS = [
  'Thanks for getting back to me so quickly.',
  'I came across your profile and thought you would be a great fit for the {role} role we are hiring for.',
  'Following up on our call earlier this week.',
  'Would you have 30 minutes on Thursday or Friday for a first conversation?',
  'I have attached my updated CV as discussed.',
  'The hiring manager enjoyed your technical interview and would like to move forward.',
  'Could you share two references before we prepare the offer?',
  'Merci pour votre retour, je suis disponible mardi après-midi.',
  'Tuesday at 10:00 works well for me.',
  'I am still very interested but need to push the start date by two weeks.',
];

export const COLLEAGUE_SUBJECTS = [
  'Hiring sync — {role}',
  'Offer approval needed',
  'Interview panel for Thursday',
  'Headcount plan Q{quarter}',
  'Re: scorecards',
  'Lunch?',
  'Sourcing ideas for {role}',
  'Team offsite — Übersicht',
  'Budget review',
  'Debrief notes',
];

export const GROUP_SUBJECTS = [
  'Panel interview: {role}',
  'Intro: {name} ↔ {company} hiring team',
  'Scheduling the onsite',
  'Reference check',
  'Welcome aboard!',
  'Candidate debrief',
];

export const EXTERNAL_SUBJECTS = [
  'Partnership proposal',
  'Invoice {number}',
  'Your contract renewal',
  'Agency shortlist for {role}',
  'Dinner on Saturday?',
  'Conference speaker invitation',
  'Réunion de suivi',
];

export const NEWSLETTERS: Array<{ name: string; address: string; subjects: string[] }> = [
  { name: 'GitHub', address: 'notifications@github.com', subjects: ['[northwind/platform] Pull request #{number} merged', '[northwind/web] New issue #{number}', 'Your weekly digest'] },
  { name: 'Jira', address: 'jira@northwind.atlassian.net', subjects: ['[JIRA] (HR-{number}) Update hiring workflow', '[JIRA] You were mentioned on HR-{number}'] },
  { name: 'Google Calendar', address: 'calendar-notification@google.com', subjects: ['Invitation: Hiring sync @ Weekly', 'Updated invitation: Debrief'] },
  { name: 'The Recruiter Weekly', address: 'newsletter@recruiterweekly.com', subjects: ['This week in talent acquisition', '5 sourcing tricks for {role}s', 'Édition spéciale : le recrutement en 2025'] },
  { name: 'Zoom', address: 'no-reply@zoom.us', subjects: ['Cloud recording available', 'Meeting reminder'] },
  { name: 'Medium Daily Digest', address: 'noreply@medium.com', subjects: ['Stories for you', 'Top picks in Engineering Management'] },
  { name: 'Slack', address: 'feedback@slack.com', subjects: ['New messages in #hiring', 'You have {number} unread mentions'] },
  { name: 'Workday', address: 'workday@myworkday.com', subjects: ['Action required: approve requisition {number}', 'Expense report approved'] },
];

export const SPAM_SENDERS = [
  { name: 'Crypto Gains', address: 'win@crypto-gains.biz' },
  { name: 'Pharmacy Deals', address: 'deals@cheap-meds.top' },
  { name: 'Prince Abdul', address: 'prince@royal-transfer.ng' },
  { name: 'SEO Experts', address: 'rank1@seo-now.xyz' },
];

export const SPAM_SUBJECTS = ['You have WON!!!', 'Limited offer – 90% off', 'Urgent business proposal', 'Rank #1 on Google guaranteed', '¡Oferta exclusiva para usted!'];

export const COMPANIES = ['Acme Robotics', 'Globex', 'Initech', 'Umbrella Labs', 'Hooli', 'Stark Industries', 'Wayne Analytics'];
export const VENDOR_DOMAINS = ['staffingpartners.com', 'talentbridge.io', 'events-europe.org', 'payroll-provider.com', 'legalcounsel.law'];
